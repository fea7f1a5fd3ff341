// The console's own script (no inline scripts: the Content-Security-Policy allows 'self' only).
// 1. Charts: a <canvas data-chart="id"> is drawn from the JSON in <script type="application/json" id="id">.
// 2. Hall screens: <section class="slide"> elements rotate every data-rotate seconds.
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      var spec = JSON.parse(source.textContent);
      spec.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, spec.options || {});
      new Chart(canvas, spec);
      canvas.dataset.drawn = "1";
    });
  }

  // The slide shown now; kept across htmx reloads of the slides (they arrive all visible).
  var current = 0;

  function showSlide() {
    var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
    if (slides.length < 2) { slides.forEach(function (s) { s.hidden = false; }); return; }
    current = current % slides.length;
    slides.forEach(function (s, i) { s.hidden = i !== current; });
  }

  function rotate() {
    var seconds = parseInt(document.body.dataset.rotate || "15", 10);
    showSlide();
    setInterval(function () { current += 1; showSlide(); }, Math.max(seconds, 5) * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    if (document.body.classList.contains("hall")) rotate();
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    drawCharts(e.target);
    if (document.body.classList.contains("hall")) showSlide();
  });
})();
