"""The pantry service: a Flask app that lists the shelves and says which server runs it."""

from flask import Flask, jsonify, request

SHELVES = {"flour": 2, "lentils": 3, "rice": 1}


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def index():
        server = request.environ.get("SERVER_SOFTWARE", "an unknown server")
        lines = [f"{item}: {count}" for item, count in sorted(SHELVES.items())]
        body = "Pantry service\n" + "\n".join(lines) + f"\nserved by {server}\n"
        return body, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    return app


app = create_app()
