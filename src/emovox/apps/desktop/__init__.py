"""The desktop app (tkinter). ``app`` is the window; ``panels`` and ``train`` its tabs; ``widgets`` the drawing;
``jobs`` the background work (no Tk); ``host`` what the tabs may ask of the window."""
