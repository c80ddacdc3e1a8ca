// kansci CopyButton front end: a button that writes the `text` trait to the clipboard.

function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button kansci-copy";
  const sync = () => {
    button.textContent = model.get("description");
    button.title = model.get("tooltip");
    button.disabled = model.get("disabled");
  };
  const onClick = async () => {
    try {
      await navigator.clipboard.writeText(model.get("text"));
      model.set("copied", model.get("copied") + 1);
      model.save_changes();
      button.textContent = "Copied";
      setTimeout(sync, 1200);
    } catch (err) {
      button.textContent = "Copy failed";
      button.title = String(err);
      setTimeout(sync, 2000);
    }
  };
  button.addEventListener("click", onClick);
  model.on("change:description", sync);
  model.on("change:tooltip", sync);
  model.on("change:disabled", sync);
  sync();
  el.replaceChildren(button);
  return () => {
    button.removeEventListener("click", onClick);
    model.off("change:description", sync);
    model.off("change:tooltip", sync);
    model.off("change:disabled", sync);
  };
}

export default { render };
