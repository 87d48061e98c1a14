// Pochta web admin: progressive enhancement only. Every page works without
// this file; it saves a click here and there.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // A form with data-confirm asks first; on "OK" it adds confirm=yes, which
    // the server requires before deleting. Without JavaScript the server
    // shows its own confirmation page instead.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
          return;
        }
        if (!form.querySelector("input[name=confirm]")) {
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = "confirm";
          input.value = "yes";
          form.appendChild(input);
        }
      });
    });

    // A select with data-autosubmit (the language switch) submits its form
    // on change; its button is hidden by the .js class.
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) {
          select.form.submit();
        }
      });
    });

    // Focus the first field with an error after a failed save.
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid) {
      invalid.focus();
    }
  });
})();
