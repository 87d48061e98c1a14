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

// Mailbox list: check all rows of the page, focus the name when the inline
// rename opens (Escape closes it), one open menu at a time, and a click
// elsewhere closes it. Without this file the <details> menus and forms
// work just the same.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-check-all]").forEach(function (all) {
      var selector = "input[type=checkbox][name=id][form='" + all.getAttribute("data-check-all") + "']";
      all.addEventListener("change", function () {
        document.querySelectorAll(selector).forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });

    document.querySelectorAll("details.rename").forEach(function (details) {
      var input = details.querySelector("input[name=name]");
      details.addEventListener("toggle", function () {
        if (details.open && input) {
          input.focus();
          input.select();
        }
      });
      if (input) {
        input.addEventListener("keydown", function (event) {
          if (event.key === "Escape") {
            input.value = input.defaultValue;
            details.open = false;
            details.querySelector("summary").focus();
          }
        });
      }
    });

    var menus = document.querySelectorAll("details.menu-wrap");
    menus.forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) {
          return;
        }
        menus.forEach(function (other) {
          if (other !== menu) {
            other.open = false;
          }
        });
      });
      menu.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && menu.open) {
          menu.open = false;
          menu.querySelector("summary").focus();
        }
      });
    });
    document.addEventListener("click", function (event) {
      menus.forEach(function (menu) {
        if (menu.open && !menu.contains(event.target)) {
          menu.open = false;
        }
      });
    });
  });
})();
