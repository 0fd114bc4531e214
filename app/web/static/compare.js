// The new-comparison form: add and remove contenders, read the prompts (the file by the
// service, with the command line's rules: POST /ui/prompts), send POST /compare as JSON, then
// go to the run's page. The service's errors name fields such as `models[1].template`, which
// are the names of this form's controls: each error is shown next to its control.
import { csrfHeaders, post, readBody, show } from "./app.js";

const form = document.getElementById("compare-form");
const list = document.getElementById("contender-list");
const template = document.getElementById("contender-template");
const formError = document.getElementById("form-error");
const submitStatus = document.getElementById("submit-status");
const submit = document.getElementById("submit");
const maxContenders = Number(form.dataset.maxContenders);

// Rename a contender's controls after its position, so names stay models[0], models[1], ...
function number(fieldset, i) {
  fieldset.querySelector("[data-number]").textContent = String(i + 1);
  for (const element of fieldset.querySelectorAll("[id], [name], [for], [aria-describedby]")) {
    for (const attribute of ["id", "name", "for", "aria-describedby"]) {
      const value = element.getAttribute(attribute);
      if (value) {
        element.setAttribute(
          attribute,
          value.replace(/models\[(\d+|__i__)\]/g, `models[${i}]`).replace(/models-(\d+|__i__)-/g, `models-${i}-`),
        );
      }
    }
  }
}

function renumber() {
  const fieldsets = list.querySelectorAll("[data-contender]");
  fieldsets.forEach(number);
  for (const remove of list.querySelectorAll("[data-remove]")) remove.disabled = fieldsets.length === 1;
  document.getElementById("add-contender").disabled = fieldsets.length >= maxContenders;
}

document.getElementById("add-contender").addEventListener("click", () => {
  const fieldset = template.content.querySelector("[data-contender]").cloneNode(true);
  list.append(fieldset);
  renumber();
  fieldset.querySelector("select").focus();
});

list.addEventListener("click", (event) => {
  const remove = event.target.closest("[data-remove]");
  if (!remove) return;
  const fieldset = remove.closest("[data-contender]");
  const next = fieldset.nextElementSibling || fieldset.previousElementSibling;
  fieldset.remove();
  renumber();
  next?.querySelector("select")?.focus();
});

function value(name) {
  return form.elements.namedItem(name)?.value.trim() ?? "";
}

function numberValue(text) {
  const n = Number(text);
  // A seed may be a 64-bit integer, more than a JavaScript number holds: sent as its digits.
  return Number.isSafeInteger(n) || !Number.isInteger(n) ? n : text;
}

class FormError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function contenders() {
  return [...list.querySelectorAll("[data-contender]")].map((fieldset, i) => {
    const contender = { model: value(`models[${i}].model`) };
    for (const key of ["label", "template"]) {
      const text = value(`models[${i}].${key}`);
      if (text) contender[key] = text;
    }
    const params = {};
    for (const input of fieldset.querySelectorAll("input[name*='.params.']")) {
      if (input.value.trim()) params[input.name.split(".params.")[1]] = numberValue(input.value.trim());
    }
    if (Object.keys(params).length) contender.params = params;
    return contender;
  });
}

function tags() {
  const result = {};
  for (const item of value("tags").split(",")) {
    if (!item.trim()) continue;
    const at = item.indexOf("=");
    if (at < 1) throw new FormError("tags", `"${item.trim()}": write each tag as key=value`);
    result[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return result;
}

// The prompts, read by the service by the command line's rules.
async function prompts() {
  const file = document.getElementById("prompts-file").files[0];
  const query = file ? `name=${encodeURIComponent(file.name)}` : "name=pasted%20prompts&format=text";
  const response = await fetch(`/ui/prompts?${query}`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream", "X-Requested-With": "llm-compare", ...csrfHeaders() },
    body: file || value("prompts"),
  });
  const data = await readBody(response);
  if (!response.ok) throw new FormError("prompts", data.detail || `The service answered ${response.status}.`);
  return data.prompts;
}

// Where a field the service names is shown: its control, else the nearest group.
function controlOf(field) {
  if (field.startsWith("prompts")) return document.getElementById("prompts");
  if (field.startsWith("tags")) return document.getElementById("tags");
  const exact = form.elements.namedItem(field) || form.elements.namedItem(`${field}.model`);
  if (exact instanceof Element) return exact;
  const contender = /^models\[(\d+)\]/.exec(field);
  if (contender) return form.elements.namedItem(`models[${contender[1]}].model`);
  if (field === "models") return document.getElementById("contenders");
  if (field === "name") return document.getElementById("name");
  return null;
}

function errorSlot(control) {
  if (control.id === "contenders") return document.getElementById("models-error");
  if (control.id === "prompts") return document.getElementById("prompts-error");
  return document.getElementById(`${control.id}-error`);
}

function clearErrors() {
  show(formError, "");
  for (const slot of form.querySelectorAll(".error")) show(slot, "");
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

function showErrors(errors, detail) {
  const unplaced = [];
  let first = null;
  for (const { field, message } of errors) {
    const control = field ? controlOf(field) : null;
    const slot = control && errorSlot(control);
    if (!slot) {
      unplaced.push(field ? `${field}: ${message}` : message);
      continue;
    }
    show(slot, slot.textContent ? `${slot.textContent} ${message}` : message);
    control.setAttribute("aria-invalid", "true");
    control.closest("details")?.setAttribute("open", "");
    first ??= control;
  }
  show(formError, unplaced.length ? unplaced.join(" ") : errors.length ? "" : detail);
  if (!formError.hidden) formError.focus();
  else first?.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  submit.disabled = true;
  try {
    show(submitStatus, "Reading the prompts…");
    const body = { prompts: await prompts(), models: contenders(), tags: tags() };
    if (value("name")) body.name = value("name");
    show(submitStatus, "Starting the comparison…");
    const { response, data } = await post("/compare", body);
    if (!response.ok) {
      show(submitStatus, "");
      showErrors(data.errors || [], data.detail || `The service answered ${response.status}.`);
      return;
    }
    show(submitStatus, "Started: opening the run…");
    location.assign(`/ui/runs/${data.id}`);
  } catch (error) {
    show(submitStatus, "");
    if (error instanceof FormError) showErrors([{ field: error.field, message: error.message }]);
    else showErrors([], "The service could not be reached.");
  } finally {
    submit.disabled = false;
  }
});

renumber();
