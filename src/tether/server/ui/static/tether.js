// Small helpers of the Tether web UI; every page works without them.
"use strict";

// A checkbox with data-select-all="NAME" ticks or clears every checkbox named NAME.
document.addEventListener("change", (event) => {
  const box = event.target;
  const name = box.dataset && box.dataset.selectAll;
  if (!name) return;
  const form = box.form || document;
  for (const other of form.querySelectorAll(`input[type=checkbox][name="${name}"]`)) {
    other.checked = box.checked;
  }
});

// A select with data-autosubmit submits its form as soon as it changes.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches && field.matches("select[data-autosubmit]") && field.form) {
    field.form.submit();
  }
});

// Hovering a lineage node highlights the edges that touch it.
function lightEdges(node, on) {
  const svg = node.closest("svg");
  const entity = node.dataset.entity;
  for (const edge of svg.querySelectorAll("path.lineage-edge")) {
    const ends = (edge.dataset.ends || "").split(" ");
    edge.classList.toggle("lit", on && ends.includes(entity));
  }
}
for (const type of ["mouseover", "mouseout", "focusin", "focusout"]) {
  document.addEventListener(type, (event) => {
    const node = event.target.closest && event.target.closest("a.lineage-node");
    if (node) lightEdges(node, type === "mouseover" || type === "focusin");
  });
}
