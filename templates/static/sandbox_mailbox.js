/* The mailbox page's buttons: POST the button's JSON body to its sandbox API path (move the clock,
   bounce an e-mail, report an SMS status, play the postman), then show the page again with the
   API's answer in the status line (kept across the reload); a refusal is shown at once. */
const status = document.getElementById("sandbox-status");
const KEPT = "sandbox-mailbox-answer";
status.textContent = sessionStorage.getItem(KEPT) || "";
sessionStorage.removeItem(KEPT);
for (const button of document.querySelectorAll("button[data-post]")) {
  button.addEventListener("click", async () => {
    const body = JSON.parse(button.dataset.body);
    const options = {method: "POST"};
    if (body !== null) {
      options.headers = {"Content-Type": "application/json"};
      options.body = JSON.stringify(body);
    }
    button.disabled = true;
    const response = await fetch(button.dataset.post, options);
    const answer = await response.json().catch(() => ({}));
    const said = `${button.textContent} → ${response.status} ${JSON.stringify(answer)}`;
    if (response.ok) {
      sessionStorage.setItem(KEPT, said);
      location.reload();
      return;
    }
    status.textContent = said;
    button.disabled = false;
  });
}
