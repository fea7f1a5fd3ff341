from crossregion.bootstrap import create_app

app = create_app()
