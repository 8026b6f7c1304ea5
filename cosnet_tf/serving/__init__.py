"""Serving a COSNet SavedModel: clients (gRPC and REST), whole-video segmentation, `cosnet serve`.

See docs/serving.md. The gRPC parts need `tensorflow-serving-api` and `grpcio`.
"""

from cosnet_tf.serving.client import (
    GrpcPredictClient,
    PredictError,
    RestPredictClient,
    ServedCore,
    connect,
    iter_segment_video,
    segment_video,
)
from cosnet_tf.serving.server import ModelServer, ServingError

__all__ = [
    "GrpcPredictClient",
    "ModelServer",
    "PredictError",
    "RestPredictClient",
    "ServedCore",
    "ServingError",
    "connect",
    "iter_segment_video",
    "segment_video",
]
