"""A control-database app of the rolling-deploy tests (tests.ops.deploy_settings): its
migrations, `expand` then `contract`, stand for two releases of the site."""
