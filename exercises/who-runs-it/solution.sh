docker container top svc
