"""`cosnet serve`: a small TensorFlow Serving stand-in for local development and tests.

It serves SavedModels laid out as TF Serving expects them
(`MODEL_DIR/<version>/saved_model.pb`, see `cosnet_tf.export`) over

* gRPC: `tensorflow.serving.PredictionService` (`Predict`,
  `GetModelMetadata`) and `tensorflow.serving.ModelService`
  (`GetModelStatus`), the protocol of `tensorflow-serving-api` clients;
* optionally REST: TF Serving's `POST /v1/models/NAME[/versions/V]:predict`
  (row "instances" or columnar "inputs" JSON), `GET /v1/models/NAME` (status)
  and `GET /v1/models/NAME/metadata`.

Behaviour follows TF Serving's: an empty `model_spec.version` selects the
latest (highest) numeric version folder, `model_spec.version` picks one
(every version folder on disk is servable, loaded on first use; the folder
is re-scanned per request, so a newly exported version is picked up), and
errors carry TF Serving's status codes and messages (one difference: TF
Serving answers an unknown signature with FAILED_PRECONDITION; this server
says NOT_FOUND, the status that names what is wrong, with TF Serving's
message):

====================================================  =====================
problem                                               status (HTTP for REST)
====================================================  =====================
unknown model, version or signature                   NOT_FOUND (404)
missing or extra input, tensor parsing error, wrong   INVALID_ARGUMENT (400)
dtype, wrong rank or channel count, empty batch,
unknown output_filter alias, malformed JSON
====================================================  =====================

Requests run on a thread pool; the server keeps serving after bad requests.
For production use the real `tensorflow/serving` (docs/serving.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from cosnet_tf.export.saved_model import MAY_BE_EMPTY, model_versions

_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _codes():
    import grpc

    return grpc.StatusCode


class ServingError(Exception):
    """A request failure with its gRPC status code name (e.g. "INVALID_ARGUMENT")."""

    HTTP = {
        "INVALID_ARGUMENT": 400,
        "FAILED_PRECONDITION": 400,
        "OUT_OF_RANGE": 400,
        "NOT_FOUND": 404,
        "UNIMPLEMENTED": 501,
        "RESOURCE_EXHAUSTED": 429,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
    }

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def grpc_code(self):
        return getattr(_codes(), self.code)

    @property
    def http_status(self):
        return self.HTTP.get(self.code, 500)


def _tf_error_code(error):
    """The gRPC code name of a `tf.errors.OpError` (TF and gRPC share the numbering)."""
    for code in _codes():
        if code.value[0] == error.error_code:
            return code.name
    return "INTERNAL"


def _shape_text(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _first_line(message):
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else str(message)


def _clean_tf_message(message):
    """The readable part of a TF runtime error (drops graph node dumps)."""
    text = str(message)
    found = re.findall(r"\[([^\[\]]*`[^\[\]]*)\]", text)  # our assert messages name the input in backticks
    if found:
        return found[0].strip()
    text = re.sub(r"\s*\[\[\{\{node [^\]]*\]\]", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]", "", text)
    return _first_line(text)


# ------------------------------------------------------------------ models
class LoadedVersion:
    """One loaded SavedModel version: its signatures and input checks."""

    def __init__(self, name, version, path):
        import tensorflow as tf

        self.name = name
        self.version = int(version)
        self.path = path
        self._module = tf.saved_model.load(path)
        self.signatures = dict(self._module.signatures)
        self.inputs = {k: dict(fn.structured_input_signature[1]) for k, fn in self.signatures.items()}
        self.outputs = {k: dict(fn.structured_outputs) for k, fn in self.signatures.items()}

    def signature_defs(self):
        """The `SignatureDef` map of the SavedModel (what TF Serving's metadata returns)."""
        from tensorflow.core.protobuf import saved_model_pb2

        saved = saved_model_pb2.SavedModel()
        with open(os.path.join(self.path, "saved_model.pb"), "rb") as f:
            saved.ParseFromString(f.read())
        for meta_graph in saved.meta_graphs:
            if "serve" in meta_graph.meta_info_def.tags:
                return meta_graph.signature_def
        return saved.meta_graphs[0].signature_def

    def predict(self, signature_name, inputs, output_filter=(), from_json=False):
        """Runs a signature. `inputs`: alias -> TensorProto (gRPC) or nested lists (JSON).

        Returns alias -> numpy array. Raises `ServingError`.
        """
        import tensorflow as tf

        signature_name = signature_name or "serving_default"
        if signature_name not in self.signatures:
            raise ServingError("NOT_FOUND", f'Serving signature key "{signature_name}" not found.')
        specs = self.inputs[signature_name]
        sent, wanted = set(inputs), set(specs)
        if sent != wanted:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input size does not match signature: {len(sent)}!={len(wanted)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
                f"Missing but required: {{{','.join(sorted(wanted - sent))}}}.",
            )
        arrays = {}
        for alias, value in sorted(inputs.items()):
            spec = specs[alias]
            where = f"input '{alias}' of signature '{signature_name}'"
            want = spec.dtype.as_numpy_dtype
            if from_json:
                array = _json_array(value, want, where)
            else:
                if value.dtype != spec.dtype.as_datatype_enum:
                    try:
                        got = tf.dtypes.as_dtype(value.dtype).name
                    except (TypeError, ValueError):
                        got = f"an invalid dtype ({value.dtype})"
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"{where}: expects {spec.dtype.name} but {got} is provided",
                    )
                try:
                    array = tf.make_ndarray(value)
                except Exception as error:  # noqa: BLE001 - any malformed proto
                    raise ServingError(
                        "INVALID_ARGUMENT", f"tensor parsing error: {alias} ({_first_line(error)})"
                    ) from None
            arrays[alias] = _check_shape(array, spec, where, alias)
        filters = list(output_filter)
        outputs = self.outputs[signature_name]
        for alias in filters:
            if alias not in outputs:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"output tensor alias not found in signature: {alias} Outputs expected to be in the "
                    f"set {{{','.join(sorted(outputs))}}}.",
                )
        if len(set(filters)) != len(filters):
            raise ServingError("INVALID_ARGUMENT", f"duplicate output tensor alias in {filters}")
        try:
            result = self.signatures[signature_name](**{k: tf.constant(v) for k, v in arrays.items()})
        except tf.errors.OpError as error:
            raise ServingError(_tf_error_code(error), _clean_tf_message(error.message)) from None
        return {k: v.numpy() for k, v in result.items() if not filters or k in filters}


def _json_array(value, dtype, where):
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise ServingError("INVALID_ARGUMENT", f"{where}: not a rectangular array ({error})") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ServingError(
            "INVALID_ARGUMENT", f"{where}: expects {np.dtype(dtype).name} numbers, got a {array.dtype} array"
        )
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        if array.dtype.kind == "f" and array.size and not np.all(np.equal(np.mod(array, 1), 0)):
            raise ServingError("INVALID_ARGUMENT", f"{where}: expects {dtype.name} but got fractional values")
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise ServingError(
                "INVALID_ARGUMENT",
                f"{where}: values out of the range of {dtype.name} ({info.min}..{info.max})",
            )
    return array.astype(dtype)


def _check_shape(array, spec, where, alias):
    expected = spec.shape
    if expected.rank is not None:
        if array.ndim != expected.rank:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"{where} must have rank {expected.rank} (shape {_shape_text(expected.as_list())}), "
                f"got shape {list(array.shape)} (rank {array.ndim})",
            )
        for axis, (want, got) in enumerate(zip(expected.as_list(), array.shape, strict=True)):
            if want is not None and want != got:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"{where} must have shape {_shape_text(expected.as_list())}, "
                    f"got {list(array.shape)} (dimension {axis} is {got}, not {want})",
                )
    if array.size == 0 and array.ndim > 0:
        if alias in MAY_BE_EMPTY and array.shape[0] == 0:
            return array
        raise ServingError(
            "INVALID_ARGUMENT",
            f"{where} is empty (shape {list(array.shape)}): an empty batch or a frame of size 0",
        )
    return array


class ServedModel:
    """A model name and its version folders; versions are loaded on first use and cached."""

    def __init__(self, name, base_path):
        self.name = name
        self.base_path = os.path.abspath(base_path)
        self._loaded = {}
        self._lock = threading.Lock()

    def versions(self):
        return model_versions(self.base_path)

    def get(self, version=None):
        available = self.versions()
        if version is None:
            if not available:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({self.name})")
            version = available[-1]
        elif version not in available:
            raise ServingError(
                "NOT_FOUND", f"Servable not found for request: Specific({self.name}, {version})"
            )
        with self._lock:
            if version not in self._loaded:
                try:
                    self._loaded[version] = LoadedVersion(
                        self.name, version, os.path.join(self.base_path, str(version))
                    )
                except Exception as error:  # noqa: BLE001
                    raise ServingError(
                        "UNAVAILABLE", f"could not load {self.name} version {version}: {_first_line(error)}"
                    ) from None
            return self._loaded[version]

    def status(self, version=None):
        """[(version, state)] like TF Serving's GetModelStatus ("AVAILABLE" once loaded or loadable)."""
        available = self.versions()
        if version is not None:
            if version not in available:
                raise ServingError(
                    "NOT_FOUND", f"Servable not found for request: Specific({self.name}, {version})"
                )
            available = [version]
        if not available:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({self.name})")
        return [(v, "AVAILABLE") for v in available]


class ModelRegistry:
    def __init__(self, models):
        self.models = {m.name: m for m in models}

    def model(self, name):
        if name not in self.models:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        return self.models[name]

    def resolve(self, name, version=None, label=None):
        if label:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Unrecognized servable version label: {label} (cosnet serve has no labels)",
            )
        return self.model(name).get(version)


# -------------------------------------------------------------------- gRPC
def _make_servicers(registry):
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    def spec_of(model_spec):
        version = model_spec.version.value if model_spec.HasField("version") else None
        return model_spec.name, version, model_spec.version_label

    class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            try:
                name, version, label = spec_of(request.model_spec)
                servable = registry.resolve(name, version, label)
                signature = request.model_spec.signature_name or "serving_default"
                outputs = servable.predict(signature, dict(request.inputs), request.output_filter)
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = signature
            for alias, array in outputs.items():
                response.outputs[alias].CopyFrom(tf.make_tensor_proto(array))
            return response

        def GetModelMetadata(self, request, context):
            try:
                name, version, label = spec_of(request.model_spec)
                if not request.metadata_field:
                    raise ServingError(
                        "INVALID_ARGUMENT", "GetModelMetadataRequest must specify at least one metadata_field"
                    )
                for field in request.metadata_field:
                    if field != "signature_def":
                        raise ServingError("INVALID_ARGUMENT", f"Metadata field {field} is not supported")
                servable = registry.resolve(name, version, label)
                signature_defs = servable.signature_defs()
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = name
            response.model_spec.version.value = servable.version
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in signature_defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response.metadata["signature_def"].Pack(signature_map)
            return response

    class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):
            try:
                name, version, _ = spec_of(request.model_spec)
                states = registry.model(name).status(version)
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            response = get_model_status_pb2.GetModelStatusResponse()
            for v, state in states:
                entry = response.model_version_status.add()
                entry.version = v
                entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state)
            return response

    return (
        (PredictionServicer(), prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server),
        (ModelServicer(), model_service_pb2_grpc.add_ModelServiceServicer_to_server),
    )


# -------------------------------------------------------------------- REST
_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[A-Za-z]+)|/(?P<resource>metadata))?/?$"
)


def _rest_predict(registry, match, body):
    servable = registry.resolve(
        match["name"], None if match["version"] is None else int(match["version"]), match["label"]
    )
    try:
        request = json.loads(body or b"null")
    except ValueError as error:
        raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise ServingError("INVALID_ARGUMENT", "JSON Value: request body must be a JSON object")
    signature = request.get("signature_name") or "serving_default"
    if signature not in servable.signatures:
        raise ServingError("NOT_FOUND", f'Serving signature key "{signature}" not found.')
    aliases = sorted(servable.inputs[signature])
    if ("instances" in request) == ("inputs" in request):
        raise ServingError(
            "INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key (exactly one of them is required)"
        )
    if "inputs" in request:
        inputs = request["inputs"]
        if not isinstance(inputs, dict):
            if len(aliases) != 1:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"'inputs' must be an object with keys {aliases} for signature '{signature}'",
                )
            inputs = {aliases[0]: inputs}
        outputs = servable.predict(signature, inputs, from_json=True)
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise ServingError("INVALID_ARGUMENT", "'instances' must be a non-empty list")
    columns = {}
    if all(isinstance(instance, dict) for instance in instances):
        for instance in instances:
            if set(instance) != set(instances[0]):
                raise ServingError("INVALID_ARGUMENT", "every instance must have the same named inputs")
        columns = {k: [instance[k] for instance in instances] for k in instances[0]}
    elif len(aliases) == 1:
        columns = {aliases[0]: instances}
    else:
        raise ServingError(
            "INVALID_ARGUMENT", f"instances must be objects with keys {aliases} for signature '{signature}'"
        )
    outputs = servable.predict(signature, columns, from_json=True)
    sizes = {v.shape[0] if v.ndim else None for v in outputs.values()}
    if sizes != {len(instances)}:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"the outputs of signature '{signature}' are not batched like the {len(instances)} instances; "
            "use the columnar 'inputs' format",
        )
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(len(instances))]}


def _rest_get(registry, match):
    version = None if match["version"] is None else int(match["version"])
    if match["resource"] == "metadata":
        from google.protobuf import json_format

        servable = registry.resolve(match["name"], version, match["label"])
        signature_defs = {k: json_format.MessageToDict(v) for k, v in servable.signature_defs().items()}
        return {
            "model_spec": {"name": match["name"], "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": signature_defs}},
        }
    states = registry.model(match["name"]).status(version)
    return {
        "model_version_status": [
            {"version": str(v), "state": state, "status": {"error_code": "OK", "error_message": ""}}
            for v, state in states
        ]
    }


def _make_rest_handler(registry):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method):
            try:
                path = self.path.split("?", 1)[0]
                match = _REST_PATH.match(path)
                if not match:
                    raise ServingError("INVALID_ARGUMENT", f"Malformed request: {method} {path}")
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                    if match["verb"] != "predict" or match["resource"]:
                        raise ServingError(
                            "UNIMPLEMENTED" if match["verb"] else "INVALID_ARGUMENT",
                            f"Malformed request: POST {path} (cosnet serve implements :predict)",
                        )
                    payload = _rest_predict(registry, match, body)
                else:
                    if match["verb"]:
                        raise ServingError("INVALID_ARGUMENT", f"Malformed request: GET {path}")
                    payload = _rest_get(registry, match)
                self._send(200, payload)
            except ServingError as error:
                self._send(error.http_status, {"error": error.message})
            except Exception as error:  # noqa: BLE001 - keep serving
                self._send(500, {"error": f"internal error: {_first_line(error)}"})

        def do_POST(self):
            self._handle("POST")

        def do_GET(self):
            self._handle("GET")

    return Handler


# ------------------------------------------------------------------ server
class ModelServer:
    """gRPC (and optionally REST) serving of TF Serving model folders.

    Args:
        model_dirs: a folder `saved_models/NAME` (or a list of them) holding
            numeric version folders.
        model_name: the served name (one model only); default: the folder's name.
        host: interface to bind (default loopback only).
        port: gRPC port (0 picks a free one; see `.port` after `start`).
        rest_port: REST port, or None for no REST endpoint (0 picks a free one).
        max_workers: request threads.
        preload: load the latest version of each model before serving.

    Example::

        with ModelServer("saved_models/cosnet", port=0) as server:
            client = GrpcPredictClient(f"127.0.0.1:{server.port}", "cosnet")
    """

    def __init__(
        self,
        model_dirs,
        model_name=None,
        host="127.0.0.1",
        port=8500,
        rest_port=None,
        max_workers=8,
        preload=True,
    ):
        from cosnet_tf.utils.extras import require

        for module in ("grpc", "tensorflow_serving.apis.prediction_service_pb2_grpc"):
            require(module, "serve", "the model server (cosnet serve)")
        if isinstance(model_dirs, (str, os.PathLike)):
            model_dirs = [model_dirs]
        model_dirs = [os.fspath(d) for d in model_dirs]
        if model_name is not None and len(model_dirs) != 1:
            raise ValueError("--model-name names a single model; give one --model-dir with it.")
        models = []
        for d in model_dirs:
            if not os.path.isdir(d):
                raise FileNotFoundError(f"Model folder not found: {d}")
            if not model_versions(d):
                hint = ""
                if os.path.isfile(os.path.join(d, "saved_model.pb")):
                    hint = f" (it is a version folder itself: pass {os.path.dirname(os.path.abspath(d))})"
                raise ValueError(
                    f"{d} has no numeric version folder with a saved_model.pb "
                    f"(expected {d}/1/saved_model.pb){hint}"
                )
            name = model_name or os.path.basename(os.path.abspath(d))
            models.append(ServedModel(name, d))
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"Two model folders share a name: {names}")
        self.registry = ModelRegistry(models)
        self.host = host
        self.requested_port = int(port)
        self.requested_rest_port = None if rest_port is None else int(rest_port)
        self.max_workers = int(max_workers)
        self.preload = preload
        self.port = None
        self.rest_port = None
        self._grpc = None
        self._executor = None
        self._http = None
        self._http_thread = None

    def start(self):
        """Loads the latest versions (when `preload`), binds and starts serving; returns self."""
        import grpc

        if self.preload:
            for model in self.registry.models.values():
                try:
                    model.get(None)
                except ServingError as error:
                    raise RuntimeError(error.message) from None
        try:
            self._executor = futures.ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="cosnet-serve"
            )
            self._grpc = grpc.server(self._executor, options=_UNLIMITED)
            for servicer, add in _make_servicers(self.registry):
                add(servicer, self._grpc)
            address = f"{self.host}:{self.requested_port}"
            try:
                self.port = self._grpc.add_insecure_port(address)
            except RuntimeError as error:
                raise RuntimeError(f"cannot bind gRPC to {address}: {error}") from None
            if not self.port:
                raise RuntimeError(f"cannot bind gRPC to {address} (port in use?)")
            if self.requested_rest_port is not None:
                try:
                    http = ThreadingHTTPServer(
                        (self.host, self.requested_rest_port), _make_rest_handler(self.registry)
                    )
                except OSError as error:
                    raise RuntimeError(
                        f"cannot bind REST to {self.host}:{self.requested_rest_port}: {error}"
                    ) from None
                http.daemon_threads = True
                self.rest_port = http.server_address[1]
                self._http_thread = threading.Thread(
                    target=http.serve_forever, name="cosnet-serve-rest", daemon=True
                )
                self._http_thread.start()
                self._http = http
            self._grpc.start()
        except BaseException:
            self.stop(grace=0)
            raise
        return self

    def stop(self, grace=2.0):
        """Stops accepting requests, lets in-flight ones finish for `grace` seconds."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http_thread.join(timeout=grace + 5)
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace).wait(grace + 5)
            self._grpc = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def wait(self):
        """Blocks until the gRPC server stops."""
        if self._grpc is not None:
            self._grpc.wait_for_termination()

    def describe(self):
        lines = []
        for model in self.registry.models.values():
            lines.append(f"model {model.name!r}: versions {model.versions()} from {model.base_path}")
        lines.append(f"gRPC on {self.host}:{self.port}")
        if self.rest_port is not None:
            lines.append(f"REST on http://{self.host}:{self.rest_port}/v1/models/<name>:predict")
        return "\n".join(lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
