// The ftc extension: highlighting comes from the TextMate grammar alone (syntaxes/); this file only
// starts the language server, `ftc lsp`, over stdio. The command comes with ftc's language server
// (issue 15, part 2): with an ftc that has no `lsp` command, the start fails once, quietly, and
// highlighting goes on working.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

async function activate(context) {
  const config = vscode.workspace.getConfiguration("ftc");
  if (!config.get("server.enabled", true)) {
    return;
  }
  const [command, ...args] = config.get("server.command", ["ftc", "lsp"]);
  client = new LanguageClient(
    "ftc",
    "ftc language server",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "ftr" }] },
  );
  context.subscriptions.push(client);
  try {
    await client.start();
  } catch (err) {
    // No ftc on PATH, or an ftc without `ftc lsp`: say so once instead of retrying in a loop.
    client = undefined;
    vscode.window.showInformationMessage(
      `ftc language server not started (${command} ${args.join(" ")}): ${err.message || err}. ` +
        "Highlighting works without it; set ftc.server.command to an ftc that has `ftc lsp`.",
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
