"""The names the command line offers as choices, in a module that imports nothing.

The modules that implement them import these tuples from here, so `cosnet --help` lists the
choices without loading TensorFlow.
"""

#: Reference sampling strategies (Table 1): global uniform, global random, local consecutive.
SAMPLING_STRATEGIES = ("uniform", "random", "local")

#: How `segment` combines N references: "attention" (the mean of the N gated summaries,
#: Eq. 13), "prediction" (the mean of the N probabilities, the authors' test script) or
#: "joint" (one softmax over the positions of all N references, one gated summary).
FUSIONS = ("attention", "prediction", "joint")

#: Evaluation protocols of `cosnet evaluate`.
PROTOCOLS = ("davis2016", "fbms", "youtube-objects")
