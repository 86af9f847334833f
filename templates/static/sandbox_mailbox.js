/* The mailbox page's buttons: POST the button's JSON body to its sandbox API path (move the clock,
   bounce an e-mail, report an SMS status, play the postman), then show the page again; a refusal
   is shown in the status line instead. */
const status = document.getElementById("sandbox-status");
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
    if (response.ok) {
      location.reload();
      return;
    }
    const answer = await response.json().catch(() => ({}));
    status.textContent = `${response.status}: ${answer.error || answer.detail || response.statusText}`;
    button.disabled = false;
  });
}
