from importlib import import_module

Migration = import_module("tests.ops.deployapp.expand.0002_note_body").Migration
