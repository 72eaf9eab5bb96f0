"""The embedded stack: PostgreSQL, moto S3, fakesnow and a loopback Lambda endpoint, on 127.0.0.1 only."""
