// The clerk workspace's only script (vendored, no build step). Pages work without it; with it:
// - a form with data-confirm asks before it is sent;
// - an element with data-poll="<url>" is refreshed from that JSON every few seconds: each
//   descendant with data-field="<name>" gets the value of that name.
"use strict";
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
function poll(element) {
  const url = element.dataset.poll;
  const every = Number(element.dataset.pollSeconds || 3) * 1000;
  const refresh = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        for (const field of element.querySelectorAll("[data-field]")) {
          if (field.dataset.field in data) field.textContent = String(data[field.dataset.field]);
        }
        if (data.done) return;
      }
    } catch (error) {
      // The next round tries again.
    }
    window.setTimeout(refresh, every);
  };
  window.setTimeout(refresh, every);
}
document.querySelectorAll("[data-poll]").forEach(poll);
