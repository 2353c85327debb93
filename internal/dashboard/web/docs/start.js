// The API reference: Swagger UI (vendored from the swagger-ui-dist package, served by the
// binary) rendering the contract the service itself serves, /api/openapi.yaml.
window.SwaggerUIBundle({
  url: "/api/openapi.yaml",
  dom_id: "#docs",
  deepLinking: true,
  // No call to the public validator service: nothing leaves this origin.
  validatorUrl: null,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
  // Each operation shows its operationId: the same name as its RPC and SDK method.
  displayOperationId: true,
});

// Swagger UI's selects (servers, examples) have a visible caption but no label tied to them:
// name each by its caption as they appear, so assistive technology can announce them.
new MutationObserver(() => {
  for (const el of document.querySelectorAll("select:not([aria-label])")) {
    const caption = el.id === "servers" ? "Server" : el.classList.contains("examples-select-element") ? "Example" : el.closest("label")?.textContent?.trim() || "Choose";
    el.setAttribute("aria-label", caption);
  }
}).observe(document.getElementById("docs"), { childList: true, subtree: true });
