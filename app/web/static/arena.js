// The arena: asks for a battle, sends the vote (a button or its key: A, B, T, X), puts the
// reveal in place, then the next battle (N). The server renders every piece, escaped.
import { postForHtml, show } from "./app.js";

const arena = document.getElementById("arena");
const runId = arena.dataset.run;
const voter = document.getElementById("voter");
const count = document.getElementById("vote-count");
let votes = 0;
let busy = false;

function fail(error) {
  const message = document.createElement("p");
  message.className = "message";
  message.textContent = `${error.message} `;
  const again = document.createElement("button");
  again.type = "button";
  again.dataset.next = "";
  again.textContent = "Try again";
  message.append(again);
  return [message];
}

async function nextBattle() {
  if (busy) return;
  busy = true;
  arena.setAttribute("aria-busy", "true");
  let nodes;
  try {
    ({ nodes } = await postForHtml(`/ui/runs/${runId}/arena/battles`));
  } catch (error) {
    nodes = fail(error);
  }
  arena.replaceChildren(...nodes);
  arena.setAttribute("aria-busy", "false");
  busy = false;
  arena.querySelector("h2")?.focus();
}

async function vote(winner) {
  const battle = arena.querySelector("[data-battle]");
  const reveal = battle?.querySelector("[data-reveal]");
  if (busy || !reveal || reveal.childElementCount) return;
  busy = true;
  for (const button of battle.querySelectorAll("button[data-winner]")) button.disabled = true;
  const name = voter.value.trim();
  let nodes;
  try {
    ({ nodes } = await postForHtml(`/ui/battles/${battle.dataset.battle}/vote`, name ? { winner, voter: name } : { winner }));
  } catch (error) {
    nodes = fail(error);
  }
  reveal.replaceChildren(...nodes);
  battle.querySelector(`button[data-winner="${winner}"]`)?.classList.add("chosen");
  for (const side of ["a", "b"]) {
    const label = reveal.querySelector(`[data-label="${side}"]`);
    const who = battle.querySelector(`[data-who="${side}"]`);
    if (label && who) who.textContent = `: ${label.textContent}`;
  }
  if (reveal.querySelector("[data-voted]")) {
    votes += 1;
    show(count, `${votes} vote${votes === 1 ? "" : "s"} on this visit.`);
  }
  busy = false;
  reveal.querySelector("button[data-next]")?.focus();
}

arena.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.winner) vote(button.dataset.winner);
  else if ("next" in button.dataset) nextBattle();
});

const KEYS = { a: "a", b: "b", t: "tie", x: "both_bad" };

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key.toLowerCase();
  if (key in KEYS) {
    const button = arena.querySelector(`button[data-winner="${KEYS[key]}"]:not(:disabled)`);
    if (button) {
      event.preventDefault();
      vote(KEYS[key]);
    }
  } else if (key === "n" && arena.querySelector("button[data-next]")) {
    event.preventDefault();
    nextBattle();
  }
});

nextBattle();
