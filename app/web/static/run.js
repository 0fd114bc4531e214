// The run page: live progress over the run's server-sent events (GET /runs/{id}/events), the
// prompt toggles, the cancel, retry and replay buttons (through the API, as JSON); the judge's
// form is judge.js's.
import { post, refreshLive, show } from "./app.js";
import "./judge.js";

const status = document.getElementById("run-status");
const runId = status.dataset.run;
const message = document.getElementById("action-message");
let events = null;
let refreshing = null;
let again = false;

// Fetch the page again and swap its live parts in; one fetch at a time, the last news wins.
async function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = refreshLive()
    .catch(() => null)
    .then(() => {
      applyToggles();
      refreshing = null;
      if (again) {
        again = false;
        return refresh();
      }
    });
  return refreshing;
}

function follow() {
  if (events || !document.querySelector("#run-status[data-following]")) return;
  events = new EventSource(`/runs/${runId}/events`);
  events.addEventListener("progress", refresh);
  events.addEventListener("end", () => {
    events.close();
    events = null;
    refresh();
  });
  // The stream also ends when the service restarts; EventSource reconnects by itself.
}

// The toggles hide rows in place (CSS classes on the table); the URL keeps them for a reload.
function applyToggles() {
  const table = document.getElementById("answers");
  const url = new URL(location.href);
  for (const box of document.querySelectorAll("input[data-hides]")) {
    table?.classList.toggle(`only-${box.dataset.hides}`, box.checked);
    if (box.checked) url.searchParams.set(box.name, "1");
    else url.searchParams.delete(box.name);
  }
  history.replaceState(null, "", url);
}

for (const box of document.querySelectorAll("input[data-hides]")) {
  box.addEventListener("change", applyToggles);
}

const WORKING = {
  cancel: "Cancelling…",
  retry: "Queueing the failed pairs again…",
  replay: "Replaying the run: the same prompts and contenders, a new run…",
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const action = button.dataset.action;
  button.disabled = true;
  show(message, WORKING[action]);
  try {
    const { response, data } = await post(button.dataset.url, action === "replay" ? {} : undefined);
    if (!response.ok) {
      show(message, data.detail || `The service answered ${response.status}.`);
      button.disabled = false;
      return;
    }
    if (action === "replay") {
      location.assign(`/ui/runs/${data.id}`);
      return;
    }
    show(message, button.dataset.action === "cancel"
      ? "Cancelled: queued pairs are dropped; pairs already sent finish."
      : "The failed pairs are queued again.");
  } catch {
    show(message, "The service could not be reached.");
    button.disabled = false;
    return;
  }
  await refresh();
  follow();
});

applyToggles();
follow();
