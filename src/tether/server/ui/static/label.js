// Keyboard shortcuts of the labelling page: 1-9 pick a label, s skips the
// task, u reopens the task labelled last, and the arrow keys move between
// tasks. Each key clicks a button or follows a link that is on the page, so
// the page works the same without this script.
(function () {
  "use strict";
  var links = {
    s: "label-skip",
    u: "label-undo",
    ArrowLeft: "label-previous",
    ArrowRight: "label-next"
  };

  function typing(element) {
    if (!element) {
      return false;
    }
    var name = element.tagName;
    return name === "INPUT" || name === "TEXTAREA" || name === "SELECT" ||
      element.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key >= "1" && event.key <= "9") {
      var button = document.querySelector(
        '#label-form button[data-key="' + event.key + '"]');
      if (button) {
        event.preventDefault();
        button.click();
      }
      return;
    }
    var link = document.getElementById(links[event.key] || "");
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });
})();
