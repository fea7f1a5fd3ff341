from console.bootstrap import create_app

app = create_app()
