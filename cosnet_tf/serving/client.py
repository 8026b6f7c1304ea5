"""Clients of a served COSNet (TF Serving or `cosnet serve`) and whole-video segmentation.

Two transports with one interface:

* `GrpcPredictClient("host:8500", "NAME")`: `PredictionService.Predict` of
  `tensorflow-serving-api` (tensors travel as raw bytes: use this one for
  features and real-size frames);
* `RestPredictClient("host:8501", "NAME")`: `POST /v1/models/NAME:predict`
  with the columnar "inputs" JSON (only `urllib` and numpy; JSON numbers are
  slow for big tensors but it needs no gRPC).

Both expose `predict(inputs, signature_name)` and the three signatures of
`cosnet_tf.export` as methods (`segment`, `encode`,
`segment_from_features`); failures raise `PredictError` with the status
code name ("NOT_FOUND", "INVALID_ARGUMENT", ...).

`segment_video(client, frames, num_references=N)` segments a video encoding
each frame exactly once, with the references `cosnet segment` picks
(`cosnet_tf.inference.reference_plan`), each query segmented against its
own with `segment_from_features`: served and in-process masks agree.

Example::

    client = GrpcPredictClient("127.0.0.1:8500", "cosnet")
    probabilities = segment_video(client, frames, num_references=5)   # [T, H, W]
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

from cosnet_tf.inference.reference_sampling import reference_plan

DEFAULT_GRPC_PORT = 8500
DEFAULT_REST_PORT = 8501
# The single output of each cosnet signature (REST answers a lone output without its name).
OUTPUT_NAMES = {
    "serving_default": "probabilities",
    "encode": "features",
    "segment_from_features": "probabilities",
}
_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class PredictError(RuntimeError):
    """A failed request: `code` is the gRPC status name, `message` the server's text."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def as_uint8_frames(frames):
    """RGB frames as uint8 (floats 0..255 are rounded and clipped)."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def _split_target(target, default_port):
    target = target.strip()
    for scheme in ("http://", "https://", "grpc://"):
        if target.startswith(scheme):
            target = target[len(scheme) :]
    target = target.rstrip("/")
    if ":" not in target.rsplit("]", 1)[-1]:
        target = f"{target}:{default_port}"
    return target


class _PredictClient:
    """Methods shared by the transports; subclasses implement `predict`."""

    def __init__(self, model_name, version=None, timeout=60.0):
        self.model_name = model_name
        self.version = None if version is None else int(version)
        self.timeout = timeout

    def predict(self, inputs, signature_name="serving_default"):  # pragma: no cover - abstract
        raise NotImplementedError

    def segment(self, query, references=None):
        """`serving_default`: uint8 query [H, W, 3] and references [N, H', W', 3] -> [H, W] probabilities."""
        query = as_uint8_frames(query)
        if references is None or len(references) == 0:
            references = np.zeros((0, 1, 1, 3), np.uint8)
        out = self.predict({"query": query, "references": as_uint8_frames(references)}, "serving_default")
        return out["probabilities"]

    def encode(self, frames):
        """`encode`: frames [B, H, W, 3] (or one [H, W, 3]) -> features [B, h, w, C]."""
        frames = as_uint8_frames(frames)
        if frames.ndim == 3:
            frames = frames[None]
        return self.predict({"frames": frames}, "encode")["features"]

    def segment_from_features(self, query_features, reference_features, output_size):
        """`segment_from_features`: [B, h, w, C] + [N, h', w', C] (N >= 0) -> [B, H, W]."""
        query_features = np.asarray(query_features, np.float32)
        if reference_features is None or len(reference_features) == 0:
            reference_features = np.zeros((0, 1, 1, query_features.shape[-1]), np.float32)
        inputs = {
            "query_features": query_features,
            "reference_features": np.asarray(reference_features, np.float32),
            "output_size": np.asarray(output_size, np.int32).reshape(2),
        }
        return self.predict(inputs, "segment_from_features")["probabilities"]

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class GrpcPredictClient(_PredictClient):
    """`tensorflow.serving.PredictionService` client (TF Serving or `cosnet serve`).

    Args:
        target: "host:port" (port 8500 when omitted).
        model_name: the served model's name.
        version: a version number, or None for the latest.
        timeout: seconds per request.
    """

    def __init__(self, target, model_name, version=None, timeout=60.0):
        from cosnet_tf.utils.extras import require

        grpc = require("grpc", "serve", "the gRPC client")
        prediction_service_pb2_grpc = require(
            "tensorflow_serving.apis.prediction_service_pb2_grpc", "serve", "the gRPC client")

        super().__init__(model_name, version, timeout)
        self.target = _split_target(target, DEFAULT_GRPC_PORT)
        self._channel = grpc.insecure_channel(
            self.target,
            options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _spec(self, model_spec, signature_name=None):
        model_spec.name = self.model_name
        if self.version is not None:
            model_spec.version.value = self.version
        if signature_name is not None:
            model_spec.signature_name = signature_name

    def _call(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise PredictError(error.code().name, error.details()) from None

    def predict(self, inputs, signature_name="serving_default", output_filter=()):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature_name)
        for alias, value in inputs.items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        request.output_filter.extend(output_filter)
        response = self._call(self._stub.Predict, request)
        return {alias: tf.make_ndarray(proto) for alias, proto in response.outputs.items()}

    def metadata(self):
        """The served SignatureDefs: {signature name: SignatureDef proto}."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(self._stub.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def close(self):
        self._channel.close()


class RestPredictClient(_PredictClient):
    """TF Serving REST client: `POST /v1/models/NAME[/versions/V]:predict` with columnar "inputs".

    Args:
        target: "host:port" or "http://host:port" (port 8501 when omitted).
        model_name, version, timeout: as for `GrpcPredictClient`.
    """

    def __init__(self, target, model_name, version=None, timeout=60.0):
        super().__init__(model_name, version, timeout)
        self.base_url = "http://" + _split_target(target, DEFAULT_REST_PORT)

    def _url(self, suffix=""):
        path = f"{self.base_url}/v1/models/{self.model_name}"
        if self.version is not None:
            path += f"/versions/{self.version}"
        return path + suffix

    def _request(self, url, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            url,
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", str(error))
            except ValueError:
                message = str(error)
            raise PredictError(_HTTP_CODES.get(error.code, f"HTTP_{error.code}"), message) from None
        except urllib.error.URLError as error:
            raise PredictError("UNAVAILABLE", f"{url}: {error.reason}") from None

    def predict(self, inputs, signature_name="serving_default"):
        payload = {
            "signature_name": signature_name,
            "inputs": {alias: np.asarray(value).tolist() for alias, value in inputs.items()},
        }
        outputs = self._request(self._url(":predict"), payload)["outputs"]
        if not isinstance(outputs, dict):
            outputs = {OUTPUT_NAMES.get(signature_name, "outputs"): outputs}
        return {alias: _from_json(value) for alias, value in outputs.items()}

    def metadata(self):
        return self._request(self._url("/metadata"))["metadata"]["signature_def"]["signature_def"]


def _from_json(value):
    array = np.asarray(value)
    return array.astype(np.float32) if array.dtype.kind == "f" else array


def connect(server, model_name, rest=False, version=None, timeout=60.0):
    """A `GrpcPredictClient` (default) or `RestPredictClient` for "host:port"."""
    cls = RestPredictClient if rest else GrpcPredictClient
    return cls(server, model_name, version=version, timeout=timeout)


# ------------------------------------------------------------------- videos
class ServedCore:
    """The per-query calls of `stream_video` on a served model (the counterpart of `InferenceCore`).

    `encode` is the server's ``encode`` signature (frames resized there, to the
    size `cosnet segment` uses), `segment` its ``segment_from_features``.
    """

    def __init__(self, client):
        self.client = client

    def encode(self, frames):
        return self.client.encode(frames)

    def stack_references(self, reference_maps):
        return np.stack(reference_maps)

    def segment(self, query, references, frame_size):
        probabilities = self.client.segment_from_features(np.asarray(query), references, frame_size)
        return np.asarray(probabilities[0], np.float32)


def iter_segment_video(client, frames, num_references=5, encode_batch_size=4, sampling="uniform", seed=0):
    """Yields each frame's [H, W] foreground probabilities, in order.

    The loop is `cosnet segment`'s own (`cosnet_tf.inference.video_stream.stream_video`)
    with the model calls sent to the server: the same references for each
    query (`reference_plan`: the query is never its own reference), each
    frame encoded exactly once (`encode`, `encode_batch_size` frames per
    request), features kept only until their last use. A served model and the
    same model in process therefore give the same masks.

    Args:
        client: a `GrpcPredictClient` or `RestPredictClient`.
        frames: anything `cosnet segment` reads (`open_frame_source`): a frame
            folder, a video file, a list of image paths, a `FrameSource`, or
            RGB frames [H, W, 3] of one size (a [T, H, W, 3] array); frames
            are read only when they are needed.
        num_references: N >= 0 (0 is the frame-by-frame baseline).
        encode_batch_size: frames per `encode` request.
        sampling: "uniform", "random" or "local" (Table 1).
        seed: seed of the "random" sampling.
    """
    from cosnet_tf.inference.open_frame_source import open_frame_source
    from cosnet_tf.inference.video_stream import stream_video

    if encode_batch_size < 1:
        raise ValueError(f"encode_batch_size must be >= 1, got {encode_batch_size}.")
    if hasattr(frames, "__len__") and len(frames) == 0:
        return
    source = open_frame_source(frames)  # checks sizes, names bad files; reads frames as needed
    plan = reference_plan(len(source), num_references, sampling, rng=seed)
    for _, probability, _ in stream_video(ServedCore(client), source, plan, encode_batch_size):
        yield probability


def segment_video(client, frames, num_references=5, encode_batch_size=4, sampling="uniform", seed=0):
    """[T, H, W] float32 probabilities of a video; see `iter_segment_video`."""
    results = list(iter_segment_video(client, frames, num_references, encode_batch_size, sampling, seed))
    if not results:
        return np.zeros((0,) + tuple(np.shape(frames)[1:3]), np.float32)
    return np.stack(results)
