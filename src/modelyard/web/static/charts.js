// Draws every <figure class="chart"> from the JSON beside it, with the vendored uPlot.
// The same numbers are in the figure's <details> table, for screen readers and no-JS.
(function () {
  "use strict";
  var COLORS = ["#1d4ed8", "#b45309", "#047857", "#b91c1c", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f"];

  function fmt(unit, v) {
    if (v == null) return "—";
    if (unit === "%") return v.toFixed(2) + "%";
    if (unit === "s") return v.toFixed(2) + "s";
    if (unit === "USD") return "$" + (v >= 1 ? v.toFixed(2) : v.toPrecision(3));
    if (Math.abs(v) >= 1e9) return (v / 1e9).toPrecision(3) + "B";
    if (Math.abs(v) >= 1e6) return (v / 1e6).toPrecision(3) + "M";
    if (Math.abs(v) >= 1e3) return (v / 1e3).toPrecision(3) + "K";
    return String(Math.round(v * 100) / 100);
  }

  function draw(figure) {
    var source = figure.querySelector("script.chart-data");
    var target = figure.querySelector(".plot");
    if (!source || !target || typeof uPlot === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var bars = spec.kind === "bars" && spec.lines.length === 1;
    var series = [{}];
    var data = [spec.times];
    spec.lines.forEach(function (line, i) {
      var color = COLORS[i % COLORS.length];
      var s = {
        label: line.label,
        stroke: color,
        width: 2,
        spanGaps: false,
        value: function (u, v) { return fmt(spec.unit, v); },
      };
      if (bars) {
        s.fill = color + "cc";
        s.paths = uPlot.paths.bars({ size: [0.7, 40] });
        s.points = { show: false };
      }
      series.push(s);
      data.push(line.values);
    });
    var opts = {
      width: Math.max(280, target.clientWidth || 600),
      height: 240,
      series: series,
      scales: spec.unit === "%" ? { y: { range: [0, 100] } } : {},
      axes: [
        {},
        { values: function (u, vals) { return vals.map(function (v) { return fmt(spec.unit, v); }); }, size: 60 },
      ],
      legend: { live: true },
    };
    target.textContent = "";
    var plot = new uPlot(opts, data, target);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, target.clientWidth), height: 240 });
    });
    figure.dataset.drawn = "1";
  }

  document.querySelectorAll("figure.chart").forEach(draw);
})();
