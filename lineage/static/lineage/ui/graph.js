/* The lineage picture: draws /lineage/graph.json with cytoscape and a layered (dagre)
   layout, left to right from raw data to model versions. No inline script (strict CSP):
   the page names the JSON in data attributes; every control is a form element.

   Usable at hundreds of nodes: runs can be grouped into their jobs (one node per job),
   the search box highlights and frames matching nodes, and Fit / zoom buttons. */
(function () {
  "use strict";

  var canvas = document.getElementById("lineage-graph");
  if (!canvas || typeof cytoscape === "undefined") {
    return;
  }
  if (typeof cytoscapeDagre !== "undefined") {
    try { cytoscape.use(cytoscapeDagre); } catch (ignored) { /* already registered */ }
  }

  var status = document.getElementById("graph-status");
  var detail = document.getElementById("node-detail");
  var list = document.getElementById("node-list");
  var search = document.getElementById("graph-search");
  var groupRuns = document.getElementById("group-runs");
  var data = null;
  var cy = null;

  function say(text) {
    if (status) { status.textContent = text; }
  }

  var STYLE = [
    { selector: "node", style: {
      "label": "data(label)", "font-size": 11, "color": "#1d232b",
      "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "ellipsis", "text-max-width": 150,
      "width": 22, "height": 22, "border-width": 2, "border-color": "#57606a", "background-color": "#fff"
    } },
    { selector: "node.version", style: { "shape": "round-rectangle", "width": 30, "background-color": "#dbe9f7", "border-color": "#0b5cad" } },
    { selector: "node.version.quarantined", style: { "background-color": "#fff4d6", "border-color": "#8a5a00", "border-width": 4, "border-style": "dashed" } },
    { selector: "node.version.revoked", style: { "background-color": "#ffebe9", "border-color": "#c0212b", "border-width": 5, "color": "#c0212b", "font-weight": "bold" } },
    { selector: "node.run, node.job", style: { "shape": "ellipse", "background-color": "#eef1f5", "border-color": "#57606a", "width": 16, "height": 16 } },
    { selector: "node.job", style: { "shape": "hexagon", "width": 26, "height": 26 } },
    { selector: "node.state-fail, node.state-abort", style: { "border-color": "#c0212b" } },
    { selector: "node.model", style: { "shape": "diamond", "width": 30, "height": 30, "background-color": "#e6d8f5", "border-color": "#5b2a86" } },
    { selector: "node.model.live", style: { "border-width": 4 } },
    { selector: "node.root", style: { "underlay-color": "#f0b400", "underlay-opacity": 0.5, "underlay-padding": 6 } },
    { selector: "edge", style: {
      "width": 1.5, "line-color": "#8c959f", "target-arrow-color": "#8c959f",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8
    } },
    { selector: "edge[kind = 'trained']", style: { "line-color": "#5b2a86", "target-arrow-color": "#5b2a86", "line-style": "dashed" } },
    { selector: ".dim", style: { "opacity": 0.15 } },
    { selector: "node.match", style: { "underlay-color": "#0b5cad", "underlay-opacity": 0.35, "underlay-padding": 8, "z-index": 10 } },
    { selector: "node:selected", style: { "underlay-color": "#f0b400", "underlay-opacity": 0.8, "underlay-padding": 8 } }
  ];

  /* Runs of one job merged into one job node; edges re-pointed and deduplicated. */
  function grouped(elements) {
    var jobOf = {};
    var jobs = {};
    var nodes = [];
    elements.nodes.forEach(function (node) {
      var d = node.data;
      if (d.kind !== "run") { nodes.push(node); return; }
      jobOf[d.id] = d.job;
      if (!jobs[d.job]) {
        jobs[d.job] = { data: { id: d.job, kind: "job", label: d.jobLabel.split("/").pop(), jobLabel: d.jobLabel, runs: 0, failed: 0 }, classes: "job" };
        nodes.push(jobs[d.job]);
      }
      jobs[d.job].data.runs += 1;
      if (d.state === "FAIL" || d.state === "ABORT") { jobs[d.job].data.failed += 1; }
    });
    Object.keys(jobs).forEach(function (id) {
      var j = jobs[id].data;
      j.label = j.label + " (" + j.runs + " run" + (j.runs === 1 ? "" : "s") + ")";
      if (j.failed) { jobs[id].classes += " state-fail"; }
    });
    var seen = {};
    var edges = [];
    elements.edges.forEach(function (edge) {
      var s = jobOf[edge.data.source] || edge.data.source;
      var t = jobOf[edge.data.target] || edge.data.target;
      var key = s + ">" + t;
      if (s === t || seen[key]) { return; }
      seen[key] = true;
      edges.push({ data: { id: key, source: s, target: t, kind: edge.data.kind } });
    });
    return { nodes: nodes, edges: edges };
  }

  function layout() {
    return {
      name: "dagre", rankDir: "LR", nodeSep: 14, rankSep: 110, edgeSep: 6,
      fit: true, padding: 24, animate: false
    };
  }

  function draw() {
    var elements = groupRuns && groupRuns.checked ? grouped(data.elements) : data.elements;
    var copy = {
      nodes: elements.nodes.map(function (n) { return { data: Object.assign({}, n.data), classes: n.classes + (n.data.id === data.root ? " root" : "") }; }),
      edges: elements.edges.map(function (e) { return { data: Object.assign({}, e.data) }; })
    };
    if (cy) { cy.destroy(); }
    cy = cytoscape({
      container: canvas, elements: copy, style: STYLE, layout: layout(),
      minZoom: 0.05, maxZoom: 3, boxSelectionEnabled: false, wheelSensitivity: 0.3
    });
    cy.on("tap", "node", function (event) { show(event.target.data()); });
    cy.on("dbltap", "node", function (event) {
      var url = event.target.data("url");
      if (url) { window.location.assign(url); }
    });
    highlight();
  }

  function row(dl, term, value) {
    if (value === undefined || value === null || value === "") { return; }
    var dt = document.createElement("dt");
    dt.textContent = term;
    var dd = document.createElement("dd");
    dd.textContent = value;
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  function show(d) {
    if (!detail) { return; }
    detail.textContent = "";
    var h = document.createElement("h2");
    h.textContent = d.kind === "version" ? d.dataset + "@" + d.version : (d.kind === "run" ? "Run of " + d.jobLabel : d.label);
    detail.appendChild(h);
    var dl = document.createElement("dl");
    dl.className = "facts";
    if (d.kind === "version") {
      row(dl, "Status", d.status);
      row(dl, "Content hash", d.hash || "none (no content hash)");
      row(dl, "Recorded", d.createdAt);
    } else if (d.kind === "run") {
      row(dl, "Run", d.id.replace(/^run:/, ""));
      row(dl, "State", d.state);
      row(dl, "Started", d.createdAt);
    } else if (d.kind === "job") {
      row(dl, "Runs", String(d.runs));
      row(dl, "Failed", d.failed ? String(d.failed) : "");
    } else if (d.kind === "model") {
      row(dl, "Status", d.status);
      row(dl, "Live in", d.live || "nowhere");
    }
    detail.appendChild(dl);
    if (d.url) {
      var a = document.createElement("a");
      a.href = d.url;
      a.textContent = d.kind === "version" ? "Open the dataset version page" : "Open the model version's lineage";
      detail.appendChild(a);
    }
    if (d.status === "revoked" || d.status === "quarantined") {
      detail.classList.add("tone-alert");
    } else {
      detail.classList.remove("tone-alert");
    }
  }

  function highlight() {
    if (!cy) { return; }
    var term = search ? search.value.trim().toLowerCase() : "";
    cy.elements().removeClass("dim match");
    if (!term) { say(summary()); return; }
    var hits = cy.nodes().filter(function (n) {
      var d = n.data();
      return [d.label, d.dataset, d.version, d.hash, d.jobLabel, d.status, d.id].some(function (v) {
        return v && String(v).toLowerCase().indexOf(term) !== -1;
      });
    });
    cy.elements().addClass("dim");
    hits.removeClass("dim").addClass("match");
    hits.connectedEdges().removeClass("dim");
    if (hits.length) { cy.fit(hits, 60); }
    say(hits.length + " of " + cy.nodes().length + " nodes match “" + term + "”.");
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function summary() {
    var c = data.counts;
    return plural(c.versions, "dataset version") + " (" + c.flagged + " revoked or quarantined), " +
      plural(c.runs, "run") + " of " + plural(c.jobs, "job") + ", " + plural(c.models, "model version") + ".";
  }

  function fillList() {
    if (!list) { return; }
    list.textContent = "";
    data.elements.nodes.forEach(function (n) {
      var d = n.data;
      if (d.kind === "run") { return; }
      var li = document.createElement("li");
      var label = d.kind === "version" ? d.dataset + "@" + d.version : d.label;
      if (d.url) {
        var a = document.createElement("a");
        a.href = d.url;
        a.textContent = label;
        li.appendChild(a);
      } else {
        li.appendChild(document.createTextNode(label));
      }
      var badge = document.createElement("span");
      badge.className = "badge" + (d.flagged ? " bad" : "");
      badge.textContent = d.kind === "model" ? "model " + d.status : d.status;
      li.appendChild(document.createTextNode(" "));
      li.appendChild(badge);
      if (d.hash) {
        var code = document.createElement("code");
        code.textContent = " " + d.hash;
        li.appendChild(code);
      }
      list.appendChild(li);
    });
  }

  function on(id, name, handler) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener(name, handler); }
  }

  on("graph-fit", "click", function () { if (cy) { cy.fit(undefined, 24); } });
  on("graph-zoom-in", "click", function () { if (cy) { cy.zoom({ level: cy.zoom() * 1.4, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); } });
  on("graph-zoom-out", "click", function () { if (cy) { cy.zoom({ level: cy.zoom() / 1.4, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); } });
  if (search) { search.addEventListener("input", highlight); }
  if (groupRuns) { groupRuns.addEventListener("change", function () { if (data) { draw(); } }); }

  say("Loading the graph…");
  fetch(canvas.getAttribute("data-graph-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    })
    .then(function (answer) {
      if (!answer.ok) { say("The graph could not be drawn: " + (answer.body.detail || "error") + "."); return; }
      data = answer.body;
      if (groupRuns && data.counts.runs > 150) { groupRuns.checked = true; }
      canvas.setAttribute("data-nodes", String(data.elements.nodes.length));
      draw();
      fillList();
      canvas.setAttribute("data-ready", "true");
    })
    .catch(function (error) { say("The graph could not be loaded (" + error + ")."); });
})();
