// Diagrams: the pages keep them as ```mermaid blocks (GitHub draws those too); here they
// become <div class="mermaid"> for mermaid.js, loaded from its CDN by mkdocs.yml.
document.addEventListener("DOMContentLoaded", function () {
  var blocks = document.querySelectorAll("pre > code.language-mermaid");
  blocks.forEach(function (code) {
    var diagram = document.createElement("div");
    diagram.className = "mermaid";
    diagram.textContent = code.textContent;
    code.parentNode.replaceWith(diagram);
  });
  if (window.mermaid && blocks.length) {
    window.mermaid.initialize({ startOnLoad: false });
    window.mermaid.run();
  }
});
