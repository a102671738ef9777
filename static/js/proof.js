/* Proof of work for the forms a bot would flood (ALTCHA's protocol, solved with WebCrypto).
   A form with an input named "altcha" gets a challenge from the server when the page loads, finds the
   number whose SHA-256 with the salt is the challenge, and sends the signed solution with the form. */
(function () {
  "use strict";
  var script = document.currentScript;
  var forms = document.querySelectorAll("form input[name=altcha]");
  if (!forms.length || !window.crypto || !window.crypto.subtle || !window.fetch) { return; }
  var url = (script && script.getAttribute("data-challenge-url")) || "/proof/challenge";
  var encoder = new TextEncoder();

  function hex(buffer) {
    var bytes = new Uint8Array(buffer), out = "";
    for (var i = 0; i < bytes.length; i++) { out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); }
    return out;
  }

  async function solve() {
    var response = await fetch(url, { credentials: "omit", cache: "no-store" });
    if (!response.ok) { throw new Error("challenge " + response.status); }
    var challenge = await response.json();
    var algorithm = challenge.algorithm || "SHA-256";
    for (var number = 0; number <= challenge.maxNumber; number++) {
      var digest = await window.crypto.subtle.digest(algorithm, encoder.encode(challenge.salt + number));
      if (hex(digest) === challenge.challenge) {
        return btoa(JSON.stringify({ algorithm: algorithm, challenge: challenge.challenge, number: number,
                                     salt: challenge.salt, signature: challenge.signature }));
      }
    }
    throw new Error("no solution");
  }

  Array.prototype.forEach.call(forms, function (input) {
    var form = input.form;
    var solving = solve().then(function (payload) { input.value = payload; return payload; });
    solving.catch(function () { /* the server says what to do when the field stays empty */ });
    form.addEventListener("submit", function (event) {
      if (input.value) { return; }
      event.preventDefault();
      var button = form.querySelector("[type=submit]");
      if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
      solving.finally(function () {
        if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
        form.submit();
      });
    });
  });
})();
