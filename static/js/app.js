/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";

  // After a send button opens the network in a new tab, this tab moves on to the thank-you page.
  document.querySelectorAll("a.send[data-thanks]").forEach(function (link) {
    link.addEventListener("click", function () {
      var thanks = link.getAttribute("data-thanks");
      window.setTimeout(function () { window.location.assign(thanks); }, 400);
    });
  });

  // A search box above a long list of choices (departments, targets) hides the ones that do not match.
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  document.querySelectorAll("input[data-filter-list]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filter-list"));
    if (!list) { return; }
    box.addEventListener("input", function () {
      var wanted = fold(box.value.trim());
      list.querySelectorAll("li, option").forEach(function (item) {
        item.hidden = wanted !== "" && fold(item.textContent).indexOf(wanted) === -1;
      });
    });
  });

  // A filter of several values says what is chosen as boxes are ticked (the server says it on load).
  document.querySelectorAll(".field.multi").forEach(function (field) {
    var chosen = field.querySelector(".chosen");
    if (!chosen) { return; }
    var blank = chosen.getAttribute("data-blank") || chosen.textContent;
    field.addEventListener("change", function () {
      var names = [];
      field.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
        var label = field.querySelector('label[for="' + box.id + '"]');
        names.push((label ? label.textContent : box.value).split(" · ")[0]);
      });
      chosen.textContent = names.length ? names.join(", ") : blank;
    });
  });

  // Live length of each variant on each network, measured by the server's own rules.
  var form = document.querySelector("form[data-length-url]");
  if (!form) { return; }
  var url = form.getAttribute("data-length-url");
  var token = form.querySelector("input[name=csrf_token]");
  var timers = new WeakMap();

  function show(box, data) {
    var out = form.querySelector('.lengths[data-for="' + box.id + '"]');
    if (!out) { return; }
    out.textContent = "";
    (data.lengths || []).forEach(function (item) {
      var span = document.createElement("span");
      span.textContent = item.label + " " + item.length + "/" + item.limit + "  ";
      if (!item.ok) { span.className = "over"; }
      out.appendChild(span);
    });
    (data.problems || []).forEach(function (problem) {
      var p = document.createElement("span");
      p.className = "over";
      p.textContent = " " + problem;
      out.appendChild(p);
    });
  }

  function measure(box) {
    if (!box.value.trim()) { show(box, {}); return; }
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
      body: JSON.stringify({ text: box.value, network: box.getAttribute("data-network") || "" }),
      credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { show(box, data); } })
      .catch(function () { /* the server checks again on save */ });
  }

  form.querySelectorAll("textarea.measured").forEach(function (box) {
    box.addEventListener("input", function () {
      window.clearTimeout(timers.get(box));
      timers.set(box, window.setTimeout(function () { measure(box); }, 250));
    });
    if (box.value.trim()) { measure(box); }
  });
})();

// An import's progress: poll its status while the job works, then load the report.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("import-bar");
  var count = document.getElementById("import-count");
  var template = count ? count.getAttribute("data-template") : null;

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(tick, 3000); return; }
        if (!data.busy) { window.location.reload(); return; }
        if (data.total > 0) {
          bar.max = data.total;
          bar.value = data.processed;
          if (template) {
            count.textContent = template.replace("{done}", data.processed).replace("{total}", data.total);
          }
        }
        window.setTimeout(tick, 1000);
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  window.setTimeout(tick, 500);
})();

// The post box of a connected account: its length by the network's rule, as the supporter edits.
(function () {
  "use strict";
  document.querySelectorAll("form.post-form[data-length-url]").forEach(function (form) {
    var box = form.querySelector("textarea.post-text");
    var out = form.querySelector(".counter");
    var button = form.querySelector("button[type=submit]");
    var token = form.querySelector("input[name=csrf_token]");
    var timer = null;
    if (!box || !out) { return; }
    function measure() {
      fetch(form.getAttribute("data-length-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify({ network: box.getAttribute("data-network"), text: box.value }),
        credentials: "same-origin"
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          out.textContent = data.length + "/" + data.limit;
          out.classList.toggle("over", !data.ok);
          if (button) { button.disabled = !data.ok || !box.value.trim(); }
        })
        .catch(function () { /* the server checks again when the form is sent */ });
    }
    box.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(measure, 250);
    });
    form.addEventListener("submit", function () { if (button) { button.disabled = true; } });
    if (!out.textContent.trim()) { measure(); }
  });
})();

// A post on its way: follow it without reloading, then show the link (or the reason) when it lands.
(function () {
  "use strict";
  var box = document.getElementById("post-status");
  if (!box || !box.getAttribute("data-status-url")) { return; }
  var url = box.getAttribute("data-status-url");
  var message = document.getElementById("post-message");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(tick, 3000); return; }
        if (!data.pending) { window.location.reload(); return; }
        message.textContent = data.message;
        window.setTimeout(tick, 1000);
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  window.setTimeout(tick, 700);
})();

// The live wave page: figures and the per-target table follow the wave without a reload.
(function () {
  var root = document.getElementById("wave-live");
  if (!root || root.dataset.live !== "yes") { return; }
  function fill(scope, data) {
    scope.querySelectorAll("[data-key]:not(time)").forEach(function (cell) {
      var value = data[cell.dataset.key];
      if (value !== undefined && String(value) !== cell.textContent) { cell.textContent = value; }
    });
  }
  function tick() {
    fetch(root.dataset.url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        fill(root.querySelector(".stats"), data);
        root.querySelector("[data-key=updated_at]").textContent = data.updated_at.slice(11, 19);
        (data.targets || []).forEach(function (t) {
          var row = root.querySelector("tr[data-target='" + t.recipient_id + "']");
          if (row) { fill(row, t); }
        });
        if (data.status !== "closed" && data.status !== "cancelled") { window.setTimeout(tick, 3000); }
      })
      .catch(function () { window.setTimeout(tick, 6000); });
  }
  window.setTimeout(tick, 3000);
})();

// A form that asks before it does something that cannot be undone (data-confirm: the question).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
