"""`router`: serve, route, bench (service), and one group per pipeline package.

Each package owns its commands in its own `cli.py`; this file only mounts them. Those modules must
import cheaply: heavy libraries are imported inside the commands that need them.
"""

import typer

from datagen.cli import app as datagen_app
from service.cli import register as register_service

app = typer.Typer(no_args_is_help=True, help="The agent router: serve, route, and build its adapter.")
register_service(app)
app.add_typer(datagen_app, name="datagen")
from training.cli import app as train_app  # noqa: E402
app.add_typer(train_app, name="train")
from evaluation.cli import app as eval_app  # noqa: E402
app.add_typer(eval_app, name="eval")
from tool_executors.cli import app as tools_app  # noqa: E402
app.add_typer(tools_app, name="tools")

if __name__ == "__main__":
    app()
