// The auditor's page: send the PDF to the API, show the report, take the PDF report away.
(function () {
  const form = document.getElementById("verify");
  const csrf = form.dataset.csrf;
  const file = document.getElementById("file"), error = document.getElementById("error");
  const frame = document.getElementById("report"), pdfButton = document.getElementById("pdf");

  async function ask(format) {
    // The session cookie goes along, with its CSRF token.
    const headers = {"X-CSRF-Token": csrf};
    const body = new FormData();
    body.append("file", file.files[0]);
    const response = await fetch("/api/v1/verifications?format=" + format, {
      method: "POST", body: body, headers: headers, credentials: "same-origin"});
    if (!response.ok) {
      let text = "La vérification a échoué (" + response.status + ").";
      try {
        const problem = await response.json();
        const reasons = (problem.errors || []).map(e => e.reason).filter(Boolean);
        text = problem.title + (reasons.length ? " : " + reasons.join(" ; ") : (problem.detail ? " : " + problem.detail : ""));
      } catch (ignored) {}
      throw new Error(text);
    }
    return response;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.hidden = true;
    try {
      const response = await ask("html");
      frame.srcdoc = await response.text();
      frame.hidden = false;
      pdfButton.disabled = false;
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      frame.hidden = true;
      pdfButton.disabled = true;
    }
  });

  pdfButton.addEventListener("click", async function () {
    error.hidden = true;
    try {
      const blob = await (await ask("pdf")).blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "rapport-verification.pdf";
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
    }
  });
})();
