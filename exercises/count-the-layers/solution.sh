docker history layered
