// Progressive enhancement for the timezone select (templates/web/_choices.html): on a form
// that has no zone of the reader's yet, pre-select the browser's own. Without JavaScript the
// select works as it is. A same-origin file: the pages' CSP allows no inline script.
(function () {
  "use strict";
  var select = document.querySelector("select[data-guess-timezone]");
  if (!select || !window.Intl || !Intl.DateTimeFormat) {
    return;
  }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i += 1) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
