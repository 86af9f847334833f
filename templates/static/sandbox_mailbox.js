/* Move the sandbox clock and run what became due, then show the result. */
for (const button of document.querySelectorAll("button[data-advance]")) {
  button.addEventListener("click", async () => {
    await fetch("/sandbox/api/clock", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({advance: button.dataset.advance})});
    location.reload();
  });
}
