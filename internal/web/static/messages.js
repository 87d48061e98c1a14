// Message view: the HTML and text bodies become two tabs, HTML first when
// there is one. Without this file both are shown one under the other.
(function () {
  "use strict";
  var nav = document.querySelector(".message-tabs[data-tabs]");
  if (!nav) {
    return;
  }
  var tabs = Array.prototype.slice.call(nav.querySelectorAll("[data-tab]"));
  function show(id) {
    tabs.forEach(function (tab) {
      var panel = document.getElementById(tab.getAttribute("data-tab"));
      var current = panel.id === id;
      panel.classList.toggle("tab-hidden", !current);
      tab.classList.toggle("active", current);
      tab.setAttribute("aria-selected", current ? "true" : "false");
    });
  }
  nav.setAttribute("role", "tablist");
  tabs.forEach(function (tab) {
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", tab.getAttribute("data-tab"));
    document.getElementById(tab.getAttribute("data-tab")).setAttribute("role", "tabpanel");
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      show(tab.getAttribute("data-tab"));
    });
  });
  show(location.hash === "#body-text" ? "body-text" : tabs[0].getAttribute("data-tab"));
})();
