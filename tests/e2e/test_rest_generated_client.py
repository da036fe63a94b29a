"""deep-image's client, generated from its published OpenAPI schema (openapi-python-client, at test time), works
unchanged against the routes with only the host changed: JSON and form-data bodies, polling, a refusal."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from hires_studio.devtools.rest_api_client import JOB_TIMEOUT_S, Api, generated_client, photo_size

pytestmark = pytest.mark.e2e


def test_a_client_generated_from_the_schema_gets_results(api: Api, generated: Any) -> None:
    models = generated.models
    client = generated_client(api, generated)
    w, h = photo_size(api)
    url = f"{api.site.url}/api-example.png"

    # process_result, the model as generated (its defaults unset), then with every schema default a generator
    # may fill in (quality 85, dpi 300, print_reorientation true, fit canvas).
    for payload in (models.ProcessPayload(url=url, width=48),
                    models.ProcessPayload(url=url, width=48, quality=85, dpi=300, print_reorientation=True,
                                          fit=models.FitTypes.CANVAS, output_format=models.OutputFormat.JPEG)):
        response = generated.post_rest_api_process_result.sync_detailed(client=client, body=payload)
        assert response.status_code == 200, response.content
        result = response.parsed
        assert isinstance(result, models.ProcessResult), result
        while result.status != models.ProcessResultStatus.COMPLETE:
            time.sleep(0.25)
            result = generated.get_rest_api_result_hash.sync(result.job, client=client)
        image = api.result_image(result.result_url)
        assert image.size == (48, round(h * 48 / w))
        if payload.dpi == 300:
            assert (image.format, [round(v) for v in image.info["dpi"]]) == ("JPEG", [300, 300])

    # process, then result/{hash} until complete
    queued = generated.post_rest_api_process.sync(client=client, body=models.ProcessPayload(url=url, width="50%"))
    assert isinstance(queued, models.ProcessResult) and queued.status in (
        models.ProcessResultStatus.NOT_STARTED, models.ProcessResultStatus.IN_PROGRESS,
        models.ProcessResultStatus.COMPLETE), queued
    deadline = time.monotonic() + JOB_TIMEOUT_S
    result = queued
    while result.status != models.ProcessResultStatus.COMPLETE:
        assert time.monotonic() < deadline
        time.sleep(0.25)
        result = generated.get_rest_api_result_hash.sync(queued.job, client=client)
        assert isinstance(result, models.ProcessResult), result
    assert api.result_image(result.result_url).size == (round(w / 2), round(h / 2))

    # the schema's form-data body: the file in fileName, the fields as JSON in parameters
    photo = api.site.files["/api-example.png"]
    body = models.PostRestApiProcessResultFilesBody(
        file_name=generated.types.File(payload=io.BytesIO(photo), file_name="photo.png", mime_type="image/png"),
        parameters=models.PostRestApiProcessResultFilesBodyParameters.from_dict({"width": 32, "dpi": 72,
                                                                                "print_reorientation": True}))
    response = generated.post_rest_api_process_result.sync_detailed(client=client, body=body)
    assert response.status_code == 200, response.content
    result = response.parsed
    while result.status != models.ProcessResultStatus.COMPLETE:
        time.sleep(0.25)
        result = generated.get_rest_api_result_hash.sync(result.job, client=client)
    image = api.result_image(result.result_url)
    assert (image.size, [round(v) for v in image.info["dpi"]]) == ((32, round(h * 32 / w)), [72, 72])

    # a refused field is the schema's 400, parsed by the client
    refused = generated.post_rest_api_process.sync_detailed(client=client, body=models.ProcessPayload(
        url=url, enhancements=[models.EnhancementTypes.FACE_ENHANCE]))
    assert refused.status_code == 400 and "enhancements[0]='face_enhance'" in refused.parsed.message

