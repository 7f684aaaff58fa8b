from vtdemo.ui import build_app, launch

demo = build_app()
if __name__ == "__main__":
    launch(demo)
