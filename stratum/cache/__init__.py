"""Cache: results stored by lineage key, in memory and on disk.

``cache`` is the store (admission by benefit, eviction, single-flight between processes);
``serialize`` the on-disk encoding of one entry (pickle 5, out-of-band buffers, HMAC);
``sqlite_wal`` the SQLite busy / WAL handling shared with the trace store.
"""
