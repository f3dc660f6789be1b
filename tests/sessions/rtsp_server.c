/* Test helper: an RTSP camera on gst-rtsp-server.
 *
 *   rtsp_server --port P --file video.mp4
 *
 * serves rtsp://127.0.0.1:P/cam: the H.264 stream of an mp4 at its real
 * rate (filesrc ! qtdemux ! h264parse ! rtph264pay). Every client gets its
 * own pipeline, from the start of the file. Prints "READY" on stdout when
 * listening; exits 0 on SIGTERM or SIGINT. Binds loopback only. */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean on_signal(gpointer loop) {
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
    const char *port = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = argv[++i];
        else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) file = argv[++i];
        else { fprintf(stderr, "usage: rtsp_server --port P --file video.mp4\n"); return 2; }
    }
    if (!port || !file || strchr(file, '"')) {
        fprintf(stderr, "usage: rtsp_server --port P --file video.mp4\n");
        return 2;
    }
    gst_init(&argc, &argv);
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer *server = gst_rtsp_server_new();
    g_object_set(server, "address", "127.0.0.1", "service", port, NULL);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    char launch[4200];
    snprintf(launch, sizeof launch,
             "( filesrc location=\"%s\" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )",
             file);
    gst_rtsp_media_factory_set_launch(factory, launch);
    gst_rtsp_media_factory_set_shared(factory, FALSE);
    gst_rtsp_media_factory_set_eos_shutdown(factory, TRUE);
    gst_rtsp_mount_points_add_factory(mounts, "/cam", factory);
    g_object_unref(mounts);
    if (gst_rtsp_server_attach(server, NULL) == 0) {
        fprintf(stderr, "rtsp_server: cannot listen on 127.0.0.1:%s\n", port);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_unix_signal_add(SIGINT, on_signal, loop);
    printf("READY\n");
    fflush(stdout);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
