// The spam page's bulk training: each chosen file is posted on its own to
// /spam/train (its bytes as the body, the CSRF token in a header), with a
// progress bar over the bytes of all files and the count trained so far;
// the learned counts on the page follow each answer.
(function () {
  "use strict";
  var form = document.querySelector("form[data-spam-train]");
  if (!form) {
    return;
  }
  var input = form.querySelector('input[type="file"]');
  var box = form.querySelector(".train-progress");
  var bar = box.querySelector("progress");
  var status = box.querySelector(".train-status");
  var button = form.querySelector('button[type="submit"]');

  function say(template, values) {
    var i = 0;
    return template.replace(/%[ds]/g, function () { return String(values[i++]); });
  }

  function showCounts(state) {
    ["spam", "ham", "words"].forEach(function (name) {
      var cell = document.querySelector('[data-count="' + name + '"]');
      var value = name === "words" ? state.words : state[name + "_messages"];
      if (cell && value !== undefined) {
        cell.textContent = value;
      }
    });
  }

  function send(file, kind, onProgress) {
    return new Promise(function (resolve) {
      var request = new XMLHttpRequest();
      request.open("POST", "/spam/train?class=" + encodeURIComponent(kind));
      request.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      var mbox = /\.mbox$/i.test(file.name) || file.type === "application/mbox";
      request.setRequestHeader("Content-Type", mbox ? "application/mbox" : "message/rfc822");
      request.upload.onprogress = function (event) { onProgress(event.loaded); };
      request.onload = function () {
        var reply = {};
        try { reply = JSON.parse(request.responseText); } catch (e) { reply = {}; }
        resolve({ ok: request.status === 200, reply: reply });
      };
      request.onerror = function () { resolve({ ok: false, reply: {} }); };
      request.send(file);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files || []);
    if (files.length === 0) {
      box.hidden = false;
      status.textContent = form.dataset.pick;
      return;
    }
    var kind = form.querySelector('select[name="class"]').value;
    var total = files.reduce(function (sum, file) { return sum + file.size; }, 0) || 1;
    var sent = 0;
    var trained = 0;
    var failed = [];
    box.hidden = false;
    button.disabled = true;
    bar.max = total;
    bar.value = 0;
    var index = 0;
    function next() {
      if (index >= files.length) {
        bar.value = total;
        status.textContent = say(form.dataset.done, [trained]) + (failed.length ? " " + say(form.dataset.failed, [failed.join(", ")]) : "");
        button.disabled = false;
        return;
      }
      var file = files[index];
      status.textContent = say(form.dataset.progress, [index + 1, files.length, file.name, trained]);
      send(file, kind, function (loaded) { bar.value = sent + loaded; }).then(function (result) {
        sent += file.size;
        bar.value = sent;
        trained += result.reply.trained || 0;
        if (result.reply.state) {
          showCounts(result.reply.state);
        }
        if (!result.ok) {
          failed.push(file.name + (result.reply.error ? " (" + result.reply.error + ")" : ""));
        } else if (result.reply.skipped) {
          failed.push(file.name + " (" + result.reply.skipped + ")");
        }
        index++;
        next();
      });
    }
    next();
  });
})();
