// The admin UI's behaviour: draws the charts htmx loads, and copies a new token.
// A vendored-file-only CSP is in force: no inline scripts, no eval, no inline styles.
(function () {
  "use strict";

  var PALETTE = ["#1db954", "#0b57d0", "#f29900", "#a142f4", "#e8453c", "#24c1e0"];
  var WEEKDAY_SHORT = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  function datasetColours(series, index, kind) {
    var colour = PALETTE[index % PALETTE.length];
    if (kind === "doughnut") {
      return { backgroundColor: series.data.map(function (_, i) { return PALETTE[i % PALETTE.length]; }) };
    }
    return { backgroundColor: colour, borderColor: colour };
  }

  function barConfig(spec) {
    var horizontal = spec.kind === "hbar";
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          return Object.assign({ label: series.label, data: series.data }, datasetColours(series, index, spec.kind));
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        plugins: { legend: { display: spec.series.length > 1 } },
        scales: horizontal
          ? { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } }
          : { y: { beginAtZero: true }, x: { ticks: { maxRotation: 0, autoSkip: true } } }
      }
    };
  }

  function doughnutConfig(spec) {
    var series = spec.series[0];
    return {
      type: "doughnut",
      data: { labels: spec.labels, datasets: [Object.assign({ label: series.label, data: series.data }, datasetColours(series, 0, "doughnut"))] },
      options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } }
    };
  }

  function integerTicks(first, last, step) {
    var ticks = [];
    for (var value = first; value <= last; value += step) { ticks.push({ value: value }); }
    return ticks;
  }

  // A weekday x hour grid drawn as square points of a scatter chart (Chart.js has no heatmap).
  function heatmapConfig(spec) {
    var points = [];
    var max = 0;
    spec.matrix.forEach(function (row, weekday) {
      row.forEach(function (count, hour) {
        points.push({ x: hour, y: weekday, v: count });
        if (count > max) { max = count; }
      });
    });
    function cellRadius(context) {
      var area = context.chart.chartArea;
      if (!area) { return 4; }
      return Math.max(2, Math.min(area.width / 24, area.height / 7) / 2 - 1);
    }
    return {
      type: "scatter",
      data: {
        datasets: [{
          label: "Plays",
          data: points,
          pointStyle: "rect",
          pointRadius: cellRadius,
          pointHoverRadius: cellRadius,
          backgroundColor: function (context) {
            var value = context.raw ? context.raw.v : 0;
            var alpha = max ? 0.07 + 0.93 * (value / max) : 0.07;
            return "rgba(29, 185, 84, " + alpha.toFixed(3) + ")";
          },
          borderColor: "rgba(0, 0, 0, 0)"
        }]
      },
      options: {
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) {
                var raw = context.raw;
                var name = (spec.rows[raw.y] || WEEKDAY_SHORT[raw.y]);
                return name + " " + String(raw.x).padStart(2, "0") + ":00: " + raw.v + " plays";
              }
            }
          }
        },
        scales: {
          x: {
            type: "linear", min: -0.5, max: 23.5, grid: { display: false },
            afterBuildTicks: function (axis) { axis.ticks = integerTicks(0, 23, 3); },
            ticks: { autoSkip: false, maxRotation: 0, callback: function (v) { return v + ":00"; } }
          },
          y: {
            type: "linear", min: -0.5, max: 6.5, reverse: true, grid: { display: false },
            afterBuildTicks: function (axis) { axis.ticks = integerTicks(0, 6, 1); },
            ticks: { autoSkip: false, callback: function (v) { return WEEKDAY_SHORT[v]; } }
          }
        }
      }
    };
  }

  function configFor(spec) {
    if (spec.kind === "heatmap") { return heatmapConfig(spec); }
    if (spec.kind === "doughnut") { return doughnutConfig(spec); }
    return barConfig(spec);
  }

  function drawCharts(root) {
    if (typeof window.Chart === "undefined" || !root || !root.querySelectorAll) { return; }
    window.Chart.defaults.animation = false;  // draw at once: the page is a report, not a show
    root.querySelectorAll("canvas[data-chart]:not([data-drawn])").forEach(function (canvas) {
      var source = canvas.getAttribute("data-spec");
      if (!source) { return; }
      var spec = JSON.parse(source);
      new window.Chart(canvas, configFor(spec));
      canvas.setAttribute("data-drawn", "true");
    });
  }

  function selectOnFocus(root) {
    root.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
    root.querySelectorAll("[data-copy-from]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-copy-from"));
        if (!input) { return; }
        input.select();
        if (navigator.clipboard) {
          navigator.clipboard.writeText(input.value).then(function () { button.textContent = "Copied"; });
        }
      });
    });
  }

  document.addEventListener("htmx:load", function (event) { drawCharts(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    selectOnFocus(document);
  });
})();
