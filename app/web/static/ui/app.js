// Specloom web app: the little behaviour htmx does not cover (adding and removing rows,
// copy buttons, the playground's form/JSON tabs). No framework, no build step.
(function () {
  "use strict";
  let counter = Date.now() % 100000 + 1000;

  document.addEventListener("click", function (event) {
    const target = event.target.closest("button, [data-copy]");
    if (!target) return;
    if (target.dataset.addRow) {
      const name = target.dataset.addRow;
      const template = document.getElementById("row-template-" + name);
      const body = document.querySelector('[data-rows="' + name + '"]');
      const html = template.innerHTML.replaceAll("__i__", String(counter++));
      body.insertAdjacentHTML("beforeend", html);
      const rows = body.querySelectorAll("tr.field-row");
      rows[rows.length - 1].querySelector("input").focus();
    } else if (target.hasAttribute("data-remove-row")) {
      target.closest("tr").remove();
    } else if (target.hasAttribute("data-add-rule")) {
      const list = document.querySelector("[data-rules]");
      list.insertAdjacentHTML("beforeend", document.getElementById("rule-template").innerHTML);
      const areas = list.querySelectorAll("textarea");
      areas[areas.length - 1].focus();
    } else if (target.hasAttribute("data-remove-rule")) {
      target.closest("li").remove();
    } else if (target.dataset.copy) {
      const source = document.getElementById(target.dataset.copy);
      navigator.clipboard.writeText(source.textContent).then(function () {
        target.textContent = "Copied";
        setTimeout(function () { target.textContent = "Copy"; }, 1500);
      });
    } else if (target.dataset.inputMode) {
      // Playground: switch between the generated form and the raw JSON body.
      const form = target.closest("form");
      form.querySelector('[name="input_mode"]').value = target.dataset.inputMode;
      form.querySelectorAll("[data-mode-panel]").forEach(function (panel) {
        panel.hidden = panel.dataset.modePanel !== target.dataset.inputMode;
      });
      form.querySelectorAll("[data-input-mode]").forEach(function (button) {
        button.classList.toggle("outline", button !== target);
      });
    }
  });
})();
