// Progressive enhancement of the complaint form: a click on the districts' map fills latitude and
// longitude. The form works the same without this script (the map stays hidden).
(function () {
  var map = document.querySelector("svg.pinmap");
  var lat = document.getElementById("lat"), lon = document.getElementById("lon");
  if (!map || !lat || !lon) return;
  map.parentNode.hidden = false;
  var help = document.querySelector("[data-map-help]");
  if (help) help.hidden = false;
  var d = map.dataset, pin = map.querySelector(".pin");
  map.addEventListener("click", function (event) {
    var point = map.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    var p = point.matrixTransform(map.getScreenCTM().inverse());
    lon.value = (parseFloat(d.west) + p.x / parseFloat(d.kx)).toFixed(5);
    lat.value = (parseFloat(d.north) - p.y / parseFloat(d.ky)).toFixed(5);
    pin.setAttribute("cx", p.x); pin.setAttribute("cy", p.y);
  });
})();
