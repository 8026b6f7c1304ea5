"""The shipped models and their card, installed as `cosnet_tf.saved_models` (package data).

`cosnet_tf.models.shipped` finds them here in an installed package, or in a checkout's
`saved_models/` folder; `COSNet.from_preset("cosnet_mobilenetv2_davis")` loads the default.
"""
