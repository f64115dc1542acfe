"""Intake as `make bench` runs it: the real app plus one baseline route that never touches Kafka.

`POST /bench/http-only` parses and validates the same hotline body as the real endpoint and answers
202 without publishing: the cost of HTTP + validation alone, measured in the same process.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import Request
from fastapi.responses import JSONResponse

from intake.config import IntakeSettings
from intake.domain.channels import HotlineCall
from intake.domain.normalise import new_case_id
from intake.entrypoints.http import create_app
from shared.logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = IntakeSettings(http_port=args.port)
    configure_logging("intake-bench", level="WARNING")
    app = create_app(settings)

    @app.post("/bench/http-only", status_code=202)
    async def http_only(request: Request, body: HotlineCall) -> JSONResponse:
        return JSONResponse({"case_id": new_case_id(), "status": "received"}, status_code=202)

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
