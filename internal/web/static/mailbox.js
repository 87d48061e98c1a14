// Pochta mailbox form: progressive enhancement only. Without this file the
// form still works: the tabs are two sections with anchor links, "Change"
// re-renders the form for the other type, and the server swaps a default port
// when the TLS choice changes. Runs as a deferred script, before app.js's
// DOMContentLoaded handler focuses the first field with an error, so that
// field's tab is already shown.
(function () {
  "use strict";
  var form = document.querySelector("form.mailbox-form");
  if (!form) {
    return;
  }
  var byId = function (id) { return document.getElementById(id); };

  // Tabs: the sections become panels, one shown at a time.
  var nav = form.querySelector("[data-tabs]");
  var tabs = nav ? Array.prototype.slice.call(nav.querySelectorAll("[data-tab]")) : [];
  function showTab(id) {
    tabs.forEach(function (tab) {
      var panel = byId(tab.getAttribute("data-tab"));
      var current = panel.id === id;
      panel.classList.toggle("tab-hidden", !current);
      tab.classList.toggle("active", current);
      tab.setAttribute("aria-selected", current ? "true" : "false");
    });
  }
  function tabOf(element) {
    var panel = element && element.closest(".tab-panel");
    return panel ? panel.id : "";
  }
  if (tabs.length) {
    nav.setAttribute("role", "tablist");
    tabs.forEach(function (tab) {
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", tab.getAttribute("data-tab"));
      byId(tab.getAttribute("data-tab")).setAttribute("role", "tabpanel");
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        showTab(tab.getAttribute("data-tab"));
      });
    });
    var invalid = form.querySelector("[aria-invalid=true]");
    var wanted = tabOf(invalid) || (location.hash === "#tab-additional" ? "tab-additional" : "tab-mailbox");
    showTab(wanted);
    // A link of the error summary opens the tab of its field.
    document.querySelectorAll(".alert-error a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function () {
        var id = tabOf(byId(link.getAttribute("href").slice(1)));
        if (id) {
          showTab(id);
        }
      });
    });
  }

  // TLS: "don't verify" only with TLS or STARTTLS; a default port follows
  // the choice (110 <-> 995, 143 <-> 993).
  var security = byId("security");
  var port = byId("port");
  function defaultPort(choice) {
    return security.getAttribute(choice === "tls" ? "data-port-tls" : "data-port-plain");
  }
  function syncVerify() {
    form.querySelectorAll("[data-needs-tls]").forEach(function (box) {
      box.disabled = security.value === "none";
    });
  }
  if (security) {
    var previous = security.value;
    security.addEventListener("change", function () {
      if (port && port.value.trim() === defaultPort(previous)) {
        port.value = defaultPort(security.value);
      }
      previous = security.value;
      syncVerify();
    });
  }

  // SMTP: relay only with domains, "authenticated only" only with relay.
  var domains = byId("domains");
  var relay = byId("relay");
  var relayAuth = byId("relay_auth_only");
  function syncRelay() {
    if (!domains || !relay) {
      return;
    }
    relay.disabled = domains.value.trim() === "";
    if (relayAuth) {
      relayAuth.disabled = relay.disabled || !relay.checked;
    }
  }
  if (domains && relay) {
    domains.addEventListener("input", syncRelay);
    relay.addEventListener("change", syncRelay);
  }

  // New system mailbox: the type swaps the visible fields at once.
  var type = form.querySelector("[data-type-switch]");
  if (type) {
    type.addEventListener("change", function () {
      form.querySelectorAll("[data-for-type]").forEach(function (section) {
        var on = section.getAttribute("data-for-type") === type.value;
        section.hidden = !on;
        section.disabled = !on;
      });
      form.querySelectorAll("[data-only-type]").forEach(function (element) {
        element.hidden = element.getAttribute("data-only-type") !== type.value;
      });
      var shown = byId("form_type");
      if (shown) {
        shown.value = type.value;
      }
      // The sections' own elements (port, security...) are the current ones.
      security = byId("security");
      port = byId("port");
      syncRelay();
    });
  }

  // IMAP: picking a mail service fills server, port, TLS and web link; the
  // site select shows only its own site's services.
  var service = form.querySelector("[data-service-select]");
  if (service) {
    service.addEventListener("change", function () {
      var option = service.options[service.selectedIndex];
      if (!option || !option.value) {
        return;
      }
      var server = byId("server");
      var webURL = byId("web_url");
      if (server) {
        server.value = option.getAttribute("data-server") || "";
      }
      var choice = option.getAttribute("data-security");
      if (security && choice) {
        security.value = choice;
        syncVerify();
      }
      var servicePort = option.getAttribute("data-port");
      if (port) {
        port.value = servicePort || (security ? defaultPort(security.value) : port.value);
      }
      if (security) {
        previous = security.value;
      }
      if (webURL) {
        webURL.value = option.getAttribute("data-web-url") || "";
      }
    });
    var site = form.querySelector("[data-site-select]");
    var filterServices = function () {
      if (!site) {
        return;
      }
      Array.prototype.forEach.call(service.options, function (option) {
        var other = option.value !== "" && option.getAttribute("data-site") !== site.value;
        option.hidden = other;
        option.disabled = other;
        if (other && option.selected) {
          service.value = "";
        }
      });
    };
    if (site) {
      site.addEventListener("change", filterServices);
      filterServices();
    }
  }

  // "My mailboxes": a test lists the server's folders to choose from, the
  // ticked ones kept (a new mailbox has the INBOX ticked).
  var folderList = form.querySelector("[data-folder-list]");
  function showFolders(folders) {
    if (!folderList) {
      return;
    }
    folderList.textContent = "";
    folders.forEach(function (folder) {
      var item = document.createElement("li");
      var shown = document.createElement("input");
      shown.type = "hidden";
      shown.name = "folder_shown";
      shown.value = folder.name;
      var label = document.createElement("label");
      label.className = "check";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = "folder";
      box.value = folder.name;
      box.checked = folder.checked;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + folder.name));
      if (folder.label) {
        var role = document.createElement("span");
        role.className = "muted";
        role.textContent = " (" + folder.label + ")";
        label.appendChild(role);
      }
      item.appendChild(shown);
      item.appendChild(label);
      folderList.appendChild(item);
    });
  }

  // "Test connection" without leaving the form: the form as typed (the
  // password too, and the CSRF token) goes to the same address with
  // X-Pochta-Test, and the outcome is said under the button. Without this
  // the server answers with the form as typed and the outcome at its top.
  form.querySelectorAll("[data-test-connection]").forEach(function (button) {
    var out = button.parentNode.querySelector("[data-test-result]");
    var bypass = false;
    button.addEventListener("click", function (event) {
      if (bypass || !window.fetch || !out) {
        return;
      }
      event.preventDefault();
      var body = new URLSearchParams(new FormData(form));
      body.set("test_connection", "1");
      button.disabled = true;
      out.className = "test-live test-result";
      out.textContent = button.getAttribute("data-testing");
      fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
        headers: {"X-Pochta-Test": "1", "Accept": "application/json"}})
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") !== 0) {
            throw new Error("not an answer of the test");
          }
          return response.json();
        })
        .then(function (answer) {
          button.disabled = false;
          out.className = "test-live test-result " + (answer.ok ? "test-ok" : "test-failed");
          out.textContent = answer.text;
          if (answer.detail) {
            var detail = document.createElement("span");
            detail.className = "error-detail mono";
            detail.textContent = answer.detail;
            out.appendChild(document.createElement("br"));
            out.appendChild(detail);
          }
          if (answer.folders) {
            showFolders(answer.folders);
          }
          if (answer.errors) {
            Object.keys(answer.errors).forEach(function (name) {
              var line = document.createElement("span");
              line.className = "field-error";
              line.textContent = answer.errors[name];
              out.appendChild(document.createElement("br"));
              out.appendChild(line);
            });
          }
        })
        .catch(function () {
          // Anything else: the form's own way, as without this script.
          button.disabled = false;
          bypass = true;
          button.click();
        });
    });
  });
})();
