"""An AWS service error, as boto3 reads it: the code in the `x-amzn-ErrorType` header, the
message in the JSON body. Both runtime APIs of the model server answer errors this way."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def aws_error(status: int, code: str, message: str, **fields: object) -> JSONResponse:
    return JSONResponse(
        {"message": message, **fields}, status_code=status, headers={"x-amzn-ErrorType": code}
    )
