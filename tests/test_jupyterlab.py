"""What a new JupyterLab user sees: every chapter opens as a notebook, and widgets render.

JupyterLab 4 opens ``.py`` files in its text editor unless a default viewer says otherwise.
``make setup`` installs ``jupyter/overrides.json`` into this environment's JupyterLab
settings (``<venv>/share/jupyter/lab/settings``), never into the user's home. These tests
start JupyterLab from the environment with an empty HOME, load pages in headless Chromium
(Debian's ``chromium``, driven over the DevTools protocol as ``scripts/check_site.py``
does) and check what a person would see:

- each chapter's ``/lab/tree/book/NN_name.py`` URL, in a new workspace, shows a notebook
  panel with the chapter's cells, its ``parameters`` cell rendered, and no text editor;
- a double-click on a chapter in the file browser opens it as a notebook too;
- running chapter 5 in that notebook renders its explorer's ipywidgets controls.

The home directory starts empty, so the default viewer can only come from the environment.
Autosave is off in the test's own temporary user-settings directory (not the home), so
running chapter 5 never rewrites ``book/05_predict.py``; the test checks the chapters are
unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))
OVERRIDES = ROOT / "jupyter" / "overrides.json"
INSTALLED_OVERRIDES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
PAGE_SECONDS = 600  # upper bounds: JupyterLab's first load on a busy 2-core machine
RUN_SECONDS = 1800  # takes minutes, and so does chapter 5 with its FAST parameters


def _check_site() -> ModuleType:
    """``scripts/check_site.py`` as a module: its Chromium launcher and DevTools tab."""
    spec = importlib.util.spec_from_file_location("check_site", ROOT / "scripts/check_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SITE = _check_site()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(probe: Callable[[], Any], seconds: float, what: str) -> Any:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(1.0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab of this environment on the repository, HOME empty, new workspaces only."""
    assert INSTALLED_OVERRIDES.is_file(), (
        f"{INSTALLED_OVERRIDES} is missing: run `make setup` (it installs jupyter/overrides.json)"
    )
    assert json.loads(INSTALLED_OVERRIDES.read_text()) == json.loads(OVERRIDES.read_text()), (
        f"{INSTALLED_OVERRIDES} differs from jupyter/overrides.json: run `make setup`"
    )
    tmp = tmp_path_factory.mktemp("lab")
    home, user_settings = tmp / "home", tmp / "user-settings"
    home.mkdir()
    docmanager = user_settings / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    token, port = secrets.token_hex(16), _free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            f"--LabApp.user_settings_dir={user_settings}",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to read the model
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={
            "HOME": str(home),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert server.poll() is None, (tmp / "server.log").read_text()
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10):
                return True
        except (urllib.error.URLError, ConnectionError):
            return False

    sources = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in CHAPTERS}
    try:
        _wait_for(up, PAGE_SECONDS, "the JupyterLab server must start")
        yield {"base": base, "token": token, "home": home}
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    changed = [
        p.name for p, h in sources.items() if hashlib.sha256(p.read_bytes()).hexdigest() != h
    ]
    assert not changed, f"JupyterLab rewrote chapters: {changed}"


@pytest.fixture(scope="module")
def devtools() -> Iterator[str]:
    """Headless Chromium's DevTools endpoint."""
    try:
        with SITE.chromium() as endpoint:
            yield endpoint
    except SystemExit as error:  # check_site's one-line reason: chromium missing or dead
        pytest.fail(str(error))


def _open_tab(lab: dict[str, Any], devtools: str, path: str) -> Any:
    """A new tab showing ``path`` (``tree/...``) in a new, empty JupyterLab workspace."""
    tab = SITE.Tab(devtools)
    tab.call("Page.enable")
    workspace = f"test-{secrets.token_hex(4)}"
    tab.call(
        "Page.navigate", url=f"{lab['base']}/lab/workspaces/{workspace}/{path}?token={lab['token']}"
    )
    return tab


# The main-area document open on ``path``: what kind of widget, and its cells as rendered.
DOCUMENT_PROBE = """(() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const widget = Array.from(app.shell.widgets('main')).find(
    (w) => w.context && w.context.path === %s);
  if (!widget || !widget.context.isReady) return null;
  const notebook = widget.node.classList.contains('jp-NotebookPanel');
  const editors = Array.from(app.shell.widgets('main')).filter(
    (w) => w.node.querySelector('.jp-FileEditor')).length;
  const cells = [];
  if (notebook) {
    const model = widget.content.model;
    for (let i = 0; i < model.cells.length; i++) {
      const view = widget.content.widgets[i];
      cells.push({type: model.cells.get(i).type, tags: model.cells.get(i).getMetadata('tags') || [],
                  text: view.node.innerText, shown: view.node.getBoundingClientRect().height > 0});
    }
  }
  return JSON.stringify({notebook, editors, id: widget.id, cells});
})()"""


def _document(tab: Any, source: Path) -> dict[str, Any]:
    """Wait until ``source`` is open in the main area and, if it is a notebook, its
    parameters cell is drawn (cells attach after the document loads); return
    :data:`DOCUMENT_PROBE`'s last answer."""
    probe = DOCUMENT_PROBE % json.dumps(f"book/{source.name}")
    first_line = next(
        c.source.splitlines()[0]
        for c in jupytext.read(source).cells
        if "parameters" in c.metadata.get("tags", [])
    )

    def settled() -> dict[str, Any] | None:
        answer = tab.evaluate(probe)
        if not answer:
            return None
        document = json.loads(answer)
        drawn = any(first_line in cell["text"] for cell in document["cells"])
        return document if drawn or not document["notebook"] else None

    try:
        return _wait_for(settled, PAGE_SECONDS, f"JupyterLab must show {source.name}")
    except AssertionError:  # report what is on the page instead of the timeout alone
        answer = tab.evaluate(probe)
        if not answer:
            raise
        return json.loads(answer)


def _assert_chapter_notebook(document: dict[str, Any], source: Path) -> None:
    """The page shows ``source`` as a notebook: its cells, the parameters cell rendered."""
    assert document["notebook"], f"{source.name} opened in the text editor, not as a notebook"
    assert document["editors"] == 0, f"{source.name}: a text editor is open as well"
    expected = jupytext.read(source).cells
    cells = document["cells"]
    assert [c["type"] for c in cells] == [c.cell_type for c in expected], (
        f"{source.name}: the notebook's cells differ from the chapter's"
    )
    tagged = [i for i, c in enumerate(cells) if "parameters" in c["tags"]]
    assert len(tagged) == 1 and cells[tagged[0]]["type"] == "code", (
        f"{source.name}: no single parameters code cell in the rendered notebook"
    )
    parameters = cells[tagged[0]]
    first_line = expected[tagged[0]].source.splitlines()[0]
    assert parameters["shown"] and first_line in parameters["text"], (
        f"{source.name}: the parameters cell is not rendered ({first_line!r} not on the page)"
    )


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_url_opens_as_a_notebook(lab: dict, devtools: str, source: Path) -> None:
    tab = _open_tab(lab, devtools, f"tree/book/{source.name}")
    _assert_chapter_notebook(_document(tab, source), source)


def test_double_click_in_the_file_browser_opens_a_notebook(lab: dict, devtools: str) -> None:
    source = CHAPTERS[2]
    tab = _open_tab(lab, devtools, "tree/book")
    find_item = f"""(() => {{
      const item = Array.from(document.querySelectorAll('.jp-DirListing-item')).find(
        (node) => node.querySelector('.jp-DirListing-itemText').innerText
          === {json.dumps(source.name)});
      if (!item) return null;
      const box = item.getBoundingClientRect();
      const centre = {{x: box.x + box.width / 2, y: box.y + box.height / 2}};
      return box.height > 0 ? JSON.stringify(centre) : null;
    }})()"""
    where = json.loads(_wait_for(lambda: tab.evaluate(find_item), PAGE_SECONDS, "file browser"))
    for clicks in (1, 2):  # what a mouse sends for a double-click
        for kind in ("mousePressed", "mouseReleased"):
            tab.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=where["x"],
                y=where["y"],
                button="left",
                clickCount=clicks,
            )
    _assert_chapter_notebook(_document(tab, source), source)


# Chapter 5's explorer: a dropdown of videos, a step slider and the picture they control.
EXPLORER_PROBE = """(() => {
  const app = window.jupyterapp;
  const widget = Array.from(app.shell.widgets('main')).find(
    (w) => w.context && w.context.path === %s);
  const model = widget.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    for (const output of (model.cells.get(i).toJSON().outputs || [])) {
      if (output.output_type === 'error') {
        return JSON.stringify({error: output.ename + ': ' + output.evalue});
      }
    }
  }
  const views = Array.from(widget.node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets'));
  const slider = widget.node.querySelector('.jp-OutputArea-output .widget-slider');
  const dropdown = widget.node.querySelector('.jp-OutputArea-output .widget-dropdown select');
  const image = widget.node.querySelector('.jp-OutputArea-output .widget-image');
  if (!(slider && dropdown && image && image.complete && image.naturalWidth > 0)) return null;
  return JSON.stringify({views: views.length, options: dropdown.options.length,
                         width: image.naturalWidth});
})()"""


def test_chapter_5_explorer_renders_its_widgets(lab: dict, devtools: str) -> None:
    source = CHAPTERS[4]
    path = f"book/{source.name}"
    tab = _open_tab(lab, devtools, f"tree/{path}")
    document = _document(tab, source)
    _assert_chapter_notebook(document, source)
    kernel_idle = f"""(() => {{
      const widget = window.jupyterapp.shell.widgets('main');
      const panel = Array.from(widget).find((w) => w.id === {json.dumps(document["id"])});
      const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
      return kernel && kernel.status === 'idle' ? 'idle' : null;
    }})()"""
    _wait_for(lambda: tab.evaluate(kernel_idle), PAGE_SECONDS, "the chapter's kernel must start")
    # The paired .ipynb may hold outputs (and widget state) of an earlier run: clear them,
    # so that only widgets made by this kernel can pass.
    tab.evaluate(
        f"window.jupyterapp.shell.activateById({json.dumps(document['id'])});"
        "window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')"
    )
    cleared = f"""(() => {{
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(
        (w) => w.id === {json.dumps(document["id"])});
      return panel.node.querySelector('.jp-OutputArea-output') ? null : 'cleared';
    }})()"""
    _wait_for(lambda: tab.evaluate(cleared), PAGE_SECONDS, "the old outputs must clear")
    tab.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    found = json.loads(
        _wait_for(
            lambda: tab.evaluate(EXPLORER_PROBE % json.dumps(path)),
            RUN_SECONDS,
            "chapter 5's explorer must render its widgets",
        )
    )
    assert "error" not in found, f"chapter 5 failed in JupyterLab: {found.get('error')}"
    assert found["views"] >= 3 and found["options"] >= 1 and found["width"] > 0
