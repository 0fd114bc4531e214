// A model judges answers: the judge's form on the run page (POST /runs/{id}/judge) and on the
// diff page (POST /runs/{a}/diff/{b}/judge) starts a judging run of its own, linked when started.
// The form says where its votes count: data-counts-url, data-counts-name.
import { post, show } from "./app.js";

const judgeForm = document.getElementById("judge-form");
const judgeMessage = document.getElementById("judge-message");

judgeForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = judgeForm.querySelector("button[type=submit]");
  const judge = judgeForm.elements.judge.value;
  // Judging again re-asks the judge about pairs it judged: anew, not from the response cache.
  const again = judgeForm.elements.again.checked;
  button.disabled = true;
  show(judgeMessage, `Asking ${judge} to judge the answers${again ? " again" : ""}…`);
  try {
    const { response, data } = await post(judgeForm.dataset.url, { judge, again });
    if (!response.ok) {
      show(judgeMessage, data.detail || `The service answered ${response.status}.`);
      return;
    }
    const link = document.createElement("a");
    link.href = `/ui/runs/${data.id}`;
    link.textContent = "its judging run";
    const counts = document.createElement("a");
    counts.href = judgeForm.dataset.countsUrl;
    counts.textContent = judgeForm.dataset.countsName;
    judgeMessage.replaceChildren(
      `${judge} has ${data.prompt_count} judge prompts to answer (each pair of answers, in both orders): follow `,
      link, "; its votes count on ", counts, " as they come.",
    );
    judgeMessage.hidden = false;
  } catch {
    show(judgeMessage, "The service could not be reached.");
  } finally {
    button.disabled = false;
  }
});
