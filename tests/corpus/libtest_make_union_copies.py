# Warm: make_union(...) reused from the cache holds copies of the estimators passed to it.
# sklearn: test_make_union_kwargs (warm). (make_pipeline keeps the arguments.)
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_union, make_pipeline
pca, sc = PCA(svd_solver="full"), StandardScaler()
fu = make_union(pca, sc, n_jobs=3)
print("make_union holds the arguments:", fu.transformer_list[0][1] is pca)
print("two unions equal:", fu.transformer_list == make_union(pca, sc).transformer_list)
pipe = make_pipeline(pca, sc)
print("make_pipeline holds the arguments:", pipe.steps[0][1] is pca)
