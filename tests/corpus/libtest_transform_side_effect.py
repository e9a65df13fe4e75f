# Warm: a transform-type method that mutates its estimator (records metadata on self) is
# reused, the mutation is lost. sklearn: test_metadata_routing_for_pipeline[inverse_transform].
import numpy as np
from sklearn.tests.metadata_routing_common import ConsumingTransformer
X, y = np.array([[1.0]]), np.array([1])
trs = ConsumingTransformer().fit(X, y, sample_weight=[1], metadata="b")
trs._records.clear()
# inverse_transform records its metadata on the estimator (a side effect on self)
trs.inverse_transform(X, sample_weight=[1], metadata="b")
print("records:", {k: dict(v) for k, v in trs._records.items()})
