// The runs page: while a run on it is going, refresh the table every two seconds.
import { refreshLive } from "./app.js";

const PERIOD_MS = 2000;

async function follow() {
  if (!document.querySelector("#runs-section[data-following]")) return;
  await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
  await refreshLive().catch(() => null);
  follow();
}

follow();
