# Warm: a composite fit reused from the cache does not replay what its steps did to objects
# they hold (a registry list). sklearn: test_transform_input_pipeline[fit_transform],
# test_validation_functions_routing[learning_curve-extra_args3] (warm).
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.tests.metadata_routing_common import ConsumingTransformer, _Registry
X, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1])
r1, r2 = _Registry(), _Registry()      # lists the steps append themselves to when fitted
pipe = make_pipeline(ConsumingTransformer(registry=r1), ConsumingTransformer(registry=r2))
pipe.fit_transform(X, y)
print("registries after fit_transform:", len(r1), len(r2))
pipe.fit(X, y)
print("registries after fit:", len(r1), len(r2))
